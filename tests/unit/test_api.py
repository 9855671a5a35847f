"""The Python API (fcnn_cli.train, sweep, load_run(s), load_dataset): the CLI's semantics in this
process, called many times, the process left as found each time; checked against real `fcnn
train` and `fcnn report` runs."""

from __future__ import annotations

import logging
import os
import signal
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import run_fcnn

import fcnn_cli

SMALL = ("dataset=digits", "backend=numpy", "struct=[32]", "max_epochs=3", "batch_size=16", "seed=3")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def process_state() -> dict:
    """What a call may not leave changed in the process."""
    from hydra.core.global_hydra import GlobalHydra

    root = logging.getLogger()
    return {
        "signals": {s: signal.getsignal(s) for s in SIGNALS},
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "root handlers": list(root.handlers),
        "root level": root.level,
        "hydra loggers": [(logging.getLogger(n).handlers, logging.getLogger(n).propagate)
                          for n in ("hydra", "hydra_plugins")],
        "hydra initialized": GlobalHydra.instance().is_initialized(),
        "showwarning": warnings.showwarning,
        "raiseExceptions": logging.raiseExceptions,
        "environment": {k: os.environ.get(k) for k in ("TF_CPP_MIN_LOG_LEVEL", "HYDRA_FULL_ERROR")},
    }


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """`fcnn train SMALL` as a user runs it: the oracle for the API's run."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = run_fcnn("train", *SMALL, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


def test_import_is_light_and_names_resolve_lazily():
    import subprocess

    code = ("import sys, fcnn_cli; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('hydra', 'jax', 'sklearn', 'matplotlib', 'pandas', 'omegaconf', 'numpy')]; "
            "assert not heavy, heavy; assert 'fcnn_cli.api' not in sys.modules; "
            "print(fcnn_cli.train.__module__, fcnn_cli.FCNNClassifier.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["fcnn_cli.api", "fcnn_cli.estimator"]
    assert {"train", "sweep", "load_run", "load_runs", "load_dataset", "Run", "Runs",
            "ConfigError", "SweepFailed", "Interrupted"} <= set(dir(fcnn_cli))
    with pytest.raises(AttributeError):
        fcnn_cli.no_such_name  # noqa: B018


def test_three_trainings_in_one_process_leave_it_as_found(cli_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = process_state()

    # 1. the CLI's settings: the CLI's very weights
    run = fcnn_cli.train(*SMALL, run_dir=tmp_path / "named")
    assert process_state() == before
    assert run.path == tmp_path / "named" and run.status == "completed"
    ours, theirs = np.load(run.path / "model.npz"), np.load(cli_run / "model.npz")
    assert sorted(ours.files) == sorted(theirs.files)
    for name in theirs.files:
        assert np.array_equal(ours[name], theirs[name]), name
    assert run.metrics["test_acc"] == fcnn_cli.load_run(cli_run).metrics["test_acc"]
    assert "test accuracy" in capsys.readouterr().out  # the CLI's headline

    # 2. the default directory: a fresh outputs/DATE/TIME under the working directory
    second = fcnn_cli.train(*SMALL, "seed=4")
    assert process_state() == before
    assert second.path.relative_to(tmp_path / "outputs") and len(second.path.relative_to(
        tmp_path / "outputs").parts) == 2
    assert second.metrics["seed"] == 4 and second.status == "completed"

    # 3. resume= goes on with the first run, in its own directory
    third = fcnn_cli.train(f"resume={run.path}", "max_epochs=5")
    assert process_state() == before
    assert third == run and third.metrics["epochs_completed"] == 5
    assert list(third.curves.index) == [1, 2, 3, 4, 5]


def test_a_run_as_python_objects(cli_run):
    run = fcnn_cli.load_run(cli_run)
    frame = run.curves
    assert list(frame.index) == [1, 2, 3] and frame.index.name == "epoch"
    assert {"lr", "train_loss", "train_acc", "test_acc", "seconds"} <= set(frame.columns)
    assert frame["train_loss"].iloc[-1] == pytest.approx(run.metrics["train_loss"])
    assert run.config["backend"]["name"] == "numpy"
    model = run.model
    data = fcnn_cli.load_dataset("digits", raw=True)  # a run's model takes the raw values
    assert model.score(data.x_test, data.y_test) == pytest.approx(run.metrics["test_acc"])
    assert [row["train_loss"] for row in model.history_] == list(frame["train_loss"])
    assert "completed" in repr(run) and "3/3 epochs" in repr(run)
    with pytest.raises(FileNotFoundError):
        fcnn_cli.load_run(cli_run / "missing")
    with pytest.raises(fcnn_cli.ConfigError, match="not a run directory"):
        fcnn_cli.load_run(cli_run / ".hydra")


def test_figures_are_made_outside_pyplot(cli_run):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    figure = fcnn_cli.load_run(cli_run).plot()
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert "digits" in figure._suptitle.get_text()
    assert plt.get_fignums() == [] and matplotlib.get_backend() == backend


@pytest.mark.parametrize("bad", [("lr=-1",), ("epochs=5",), ("backend=torch",),
                                 ("struct=(500,250)",), ("experiment=nope",)])
def test_bad_input_is_a_config_error_with_the_clis_line(bad, tmp_path):
    cli = run_fcnn("train", "dataset=digits", *bad, f"hydra.run.dir={tmp_path / 'cli'}")
    assert cli.returncode == 2
    line = cli.stderr.strip().splitlines()[-1].removeprefix("fcnn: error: ")
    before = process_state()
    with pytest.raises(fcnn_cli.ConfigError) as caught:
        fcnn_cli.train("dataset=digits", *bad, run_dir=tmp_path / "api")
    assert str(caught.value) == line
    assert isinstance(caught.value, ValueError)
    assert process_state() == before
    assert not (tmp_path / "api").exists()  # nothing is left behind


def test_what_train_and_sweep_refuse_before_anything_runs(tmp_path):
    with pytest.raises(fcnn_cli.ConfigError, match="not the command line's flags"):
        fcnn_cli.train("-m", "lr=0.1,0.2")
    with pytest.raises(fcnn_cli.ConfigError, match="hydra.mode"):
        fcnn_cli.sweep("hydra.mode=RUN")
    with pytest.raises(TypeError, match="strings"):
        fcnn_cli.train("dataset=digits", 3)  # type: ignore[arg-type]


def test_a_finished_run_is_never_overwritten(cli_run):
    from helpers import snapshot

    files = snapshot(cli_run)
    with pytest.raises(fcnn_cli.ConfigError, match="already holds a finished run"):
        fcnn_cli.train(*SMALL, run_dir=cli_run)
    assert snapshot(cli_run) == files


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> fcnn_cli.Runs:
    """A small parallel sweep on digits (the joblib launcher, two workers), in process."""
    sweep_dir = tmp_path_factory.mktemp("sweep") / "s"
    before = process_state()
    runs = fcnn_cli.sweep("dataset=digits", "backend=numpy", "struct=[16]", "max_epochs=2",
                          "lr=0.05,0.1,0.2", "hydra/launcher=local", "hydra.launcher.n_jobs=2",
                          sweep_dir=sweep_dir)
    assert process_state() == before
    return runs


def test_a_sweep_returns_its_runs(swept):
    assert len(swept) == 3 and all(run.status == "completed" for run in swept)
    assert sorted(run.metrics["lr"] for run in swept) == [0.05, 0.1, 0.2]
    again = fcnn_cli.load_runs(swept.directories[0])
    assert list(again) == list(swept)
    assert repr(swept).startswith("Runs(3 runs in") and "3 completed" in repr(swept)


def test_the_table_is_fcnn_reports(swept, fcnn_here):
    import pandas as pd

    table = swept.table()
    sweep_dir = swept.directories[0]
    assert fcnn_here("report", str(sweep_dir), "--no-plot").returncode == 0
    report = pd.read_csv(sweep_dir / "report.csv", dtype={"run": str}).set_index("run")
    assert list(table.index) == list(report.index) == ["0", "1", "2"]
    # every column of report.csv, the swept lr among them, the same values
    assert list(table.columns) == [c for c in report.columns if c != "run"]
    for column in ("lr", "test_acc", "train_acc", "train_loss", "status", "epochs", "path"):
        assert list(table[column]) == list(report[column]), column
    best_first = swept.table(sort="test_acc")["test_acc"]
    assert list(best_first) == sorted(table["test_acc"], reverse=True)
    with pytest.raises(fcnn_cli.ConfigError, match="unknown column"):
        swept.table(sort="test_accuracy")


def test_group_by_gives_mean_and_std(swept):
    table = swept.table(group_by="lr")  # the three runs differ in lr only: one row
    assert len(table) == 1
    row = table.iloc[0]
    accuracies = [run.metrics["test_acc"] for run in swept]
    assert row["n"] == 3
    assert row["test_acc"] == pytest.approx(statistics.fmean(accuracies))
    assert row["test_acc_std"] == pytest.approx(statistics.stdev(accuracies))
    with pytest.raises(fcnn_cli.ConfigError, match="group_by"):
        swept.table(group_by="no.such.key")


def test_the_sweeps_figure(swept):
    import matplotlib.pyplot as plt

    figure = swept.plot()
    assert len(figure.axes) == 3 and "3 runs" in figure._suptitle.get_text()
    assert plt.get_fignums() == []


def test_a_failed_sweep_raises_with_its_runs(tmp_path):
    before = process_state()
    with pytest.raises(fcnn_cli.SweepFailed) as caught:
        fcnn_cli.sweep("dataset=digits", "backend=numpy", "struct=[8]", "max_epochs=1",
                       "dataset.classes=[3,8],[3,11]", sweep_dir=tmp_path / "s")
    assert process_state() == before
    runs = caught.value.runs
    table = runs.table()
    assert list(table["status"]) == ["completed", "failed"]
    assert "no class 11" in table["error"].iloc[1]
    assert f"resume={tmp_path / 's'}" in str(caught.value)


def test_ctrl_c_stops_after_the_epoch_and_the_run_resumes(tmp_path):
    """A real SIGINT to this process mid-run: the run stops after its epoch, saved as
    interrupted; Interrupted carries it, and train(resume=...) completes it."""
    run_dir = tmp_path / "run"
    heard: list[int] = []

    def around(signum: int, frame: object) -> None:  # a safety net: pytest's would stop the run
        heard.append(signum)

    previous = signal.signal(signal.SIGINT, around)

    def interrupt() -> None:
        deadline = time.monotonic() + 120
        while not (run_dir / "checkpoint.npz").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(fcnn_cli.Interrupted) as caught:
            fcnn_cli.train("dataset=digits", "backend=numpy", "struct=[16]", "batch_size=4",
                           "max_epochs=400", "checkpoint.every_s=0", run_dir=run_dir)
        assert signal.getsignal(signal.SIGINT) is around  # put back by the call
    finally:
        signal.signal(signal.SIGINT, previous)
    assert heard == []  # the signal reached fcnn's handler, not the one around the call
    assert isinstance(caught.value, KeyboardInterrupt)
    run = caught.value.run
    assert run.path == run_dir and run.status == "interrupted"
    done = run.metrics["epochs_completed"]
    assert 0 < done < 400
    assert f"fcnn_cli.train('resume={run_dir}')" in str(caught.value)
    resumed = fcnn_cli.train(f"resume={run_dir}", f"max_epochs={done + 2}")
    assert resumed.status == "completed" and resumed.metrics["epochs_completed"] == done + 2


def test_load_dataset_is_what_runs_train_on():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.2, stratify=digits.target, random_state=0)
    data = fcnn_cli.load_dataset("digits")
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0
    np.testing.assert_array_equal(data.x_test, (x_test / 16).astype(np.float32))
    np.testing.assert_array_equal(data.y_train, y_train)
    held = fcnn_cli.load_dataset("digits", val_fraction=0.1, seed=2, dtype="float64")
    assert held.x_val.shape[0] + held.x_train.shape[0] == x_train.shape[0]
    assert held.x_train.dtype == np.float64
    pair = fcnn_cli.load_dataset("digits", classes=[3, 8])
    assert set(np.unique(pair.y_train)) == {0, 1} and pair.classes == (3, 8)
    with pytest.raises(fcnn_cli.ConfigError, match="dtype"):
        fcnn_cli.load_dataset("digits", dtype="float16")
    with pytest.raises(fcnn_cli.ConfigError, match="dataset"):
        fcnn_cli.load_dataset("cifar")
    with pytest.raises(fcnn_cli.ConfigError, match="no setting 'epochs'"):
        fcnn_cli.load_dataset("digits", epochs=3)


def test_history_is_the_loss_curve_and_the_validation_scores():
    from fcnn_cli import FCNNClassifier

    data = fcnn_cli.load_dataset("digits")
    clf = FCNNClassifier(backend="numpy", struct=[16], max_epochs=4, val_fraction=0.2, seed=2)
    clf.fit(data.x_train, data.y_train)
    assert [row["epoch"] for row in clf.history_] == [1, 2, 3, 4]
    assert [row["train_loss"] for row in clf.history_] == clf.loss_curve_
    assert [row["val_acc"] for row in clf.history_] == clf.validation_scores_
    assert list(clf.history_[0]) == ["epoch", "lr", "train_loss", "train_acc", "val_loss",
                                     "val_acc", "seconds"]  # no test set: no test columns
    assert clf.history_[1]["lr"] == pytest.approx(0.1 * 0.9)
    frame = clf.history_frame()
    assert list(frame.index) == [1, 2, 3, 4] and list(frame["train_loss"]) == clf.loss_curve_
    plain = FCNNClassifier(backend="numpy", struct=[16], max_epochs=2).fit(data.x_train, data.y_train)
    assert "val_acc" not in plain.history_[0]


def test_a_saved_estimator_keeps_its_history(tmp_path):
    from fcnn_cli import FCNNClassifier

    data = fcnn_cli.load_dataset("digits")
    clf = FCNNClassifier(backend="numpy", struct=[16], max_epochs=2).fit(data.x_train, data.y_train)
    clf.save(tmp_path / "saved")
    assert FCNNClassifier.from_run(tmp_path / "saved").history_ == clf.history_
