"""Interrupt and resume through real processes: SIGINT or SIGTERM to a running `fcnn train`,
resumed by a second process and compared with an uninterrupted run, bit for bit; the resume rules
end to end; Ctrl-C in sweeps. Every epoch's checkpoint restored in process, on every backend:
tests/unit/test_checkpoint_resume.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, interrupt_at_checkpoint, popen_fcnn, read_metrics, run_fcnn
from helpers.resume import assert_bitwise as _assert_bitwise
from helpers.resume import curves as _curves
from helpers.resume import settings as _settings

from fcnn_cli.config.validate import from_config
from fcnn_cli.data import datasets
from fcnn_cli.training import checkpoint

# --- the settings and bitwise comparisons shared with tests/unit/test_checkpoint_resume.py ------





# --- real signals to real processes -------------------------------------------------------------

SMALL = ("dataset=digits", "struct=[16]", "batch_size=8", "seed=2", "annealing=0.95",
         "progress=false")


def _popen(*args: str) -> subprocess.Popen:
    return popen_fcnn(*args, columns=120)


def _curve_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "curves.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def _assert_uninterrupted(run_dir: Path) -> None:
    """The run in `run_dir` ended exactly as the same run uninterrupted: the shared training
    path (train.fit, as `fcnn train` runs it) with the run's own saved config, in one go. Its
    model.npz arrays, curves.csv (but the timing column) and final metrics: the same bits."""
    from omegaconf import OmegaConf

    from fcnn_cli.training.fit import fit

    s = from_config(OmegaConf.load(run_dir / ".hydra" / "config.yaml"))
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
    backend, history = fit(s, data)
    with np.load(run_dir / "model.npz") as model:
        _assert_bitwise([(model[f"W{i}"], model[f"b{i}"]) for i in range(len(s.struct) + 1)],
                        backend.get_params())
    rows = _curve_rows(run_dir)
    assert len(rows) == len(history.records) == s.max_epochs
    assert [{k: float(v) for k, v in row.items()} for row in rows] == [
        {k: float(record[k]) for k in rows[0]} for record in history.rows()]
    metrics, last = read_metrics(run_dir), history.last
    assert (metrics["status"], metrics["epochs_completed"]) == ("completed", s.max_epochs)
    for key in ("train_loss", "train_acc", "test_acc", "test_loss"):
        assert metrics[key] == getattr(last, key), key


def _assert_same_run(run_dir: Path, reference: Path) -> None:
    """model.npz arrays, curves.csv (but its timing column) and the final metrics: identical."""
    with np.load(run_dir / "model.npz") as a, np.load(reference / "model.npz") as b:
        assert a.files == b.files
        for name in a.files:
            assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name
    assert _curve_rows(run_dir) == _curve_rows(reference)
    m, r = read_metrics(run_dir), read_metrics(reference)
    for key in ("status", "epochs_completed", "train_loss", "train_acc", "test_acc", "test_loss"):
        assert m[key] == r[key], key


# numpy and jax, each signal, SGD and Adam by default; the rest of the matrix is marked slow (a
# JAX run in a subprocess takes some seconds to start and compile). The runs are long enough
# (tens of epochs a second) for the signal to arrive well before their end.
SIGNAL_RUNS = [
    # backend, optimizer overrides, epochs, signal
    ("numpy", (), 30, signal.SIGINT),
    ("jax", ("optimizer=adam", "lr=0.01"), 60, signal.SIGTERM),
    pytest.param("jax-grad", ("optimizer.momentum=0.9", "optimizer.nesterov=true", "lr=0.05"), 60,
                 signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("numpy", ("optimizer=adam", "lr=0.01"), 30, signal.SIGTERM,
                 marks=pytest.mark.slow),
    pytest.param("jax", (), 60, signal.SIGINT, marks=pytest.mark.slow),
    pytest.param("jax-grad", ("optimizer=adam", "lr=0.01"), 60, signal.SIGTERM,
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("backend", "optimizer", "epochs", "signum"), SIGNAL_RUNS)
def test_signal_then_resume_equals_uninterrupted(tmp_path, fcnn_here, backend, optimizer, epochs,
                                                 signum):
    run_dir = tmp_path / "run"
    numpy = backend == "numpy"  # it also checks the plot, the report, and later signals
    config = (f"backend={backend}", *SMALL, *optimizer, f"max_epochs={epochs}",
              f"plot={'true' if numpy else 'false'}")
    # numpy: more signals, every 20 ms, while it finishes the epoch and saves: they are noted,
    # and the save runs to its end.
    status, out, err = interrupt_at_checkpoint(
        _popen("train", *config, f"hydra.run.dir={run_dir}"), run_dir, signum,
        keep_signalling=numpy)

    # Stopped after an epoch: one line, 128 + the signal, everything so far kept.
    metrics = read_metrics(run_dir)
    done = metrics["epochs_completed"]
    assert status == 128 + signum, err
    # The first signal is answered at once (issue 32): stopping after this epoch, then saving.
    from fcnn_cli.training.interrupt import heard_line

    assert err.splitlines() == [heard_line(signum),
                                f"fcnn: interrupted after {done}/{epochs} epochs; resume with: "
                                f"fcnn train resume={run_dir}"]
    assert "Traceback" not in out + err and out == ""
    assert metrics["status"] == "interrupted" and 1 <= done < epochs
    assert len(_curve_rows(run_dir)) == done
    assert (run_dir / "curves.png").is_file() == numpy
    saved = checkpoint.load(run_dir / "checkpoint.npz")
    assert saved.epoch == done
    with np.load(run_dir / "model.npz") as model:  # the model of the last epoch done
        assert model["W0"].tobytes() == saved.params[0][0].tobytes()
    if numpy:
        report = fcnn_here("report", str(run_dir), "--out", str(tmp_path / "report"))
        assert report.returncode == 0 and "interrupted" in report.stdout

    resumed = run_fcnn("train", f"resume={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    assert read_metrics(run_dir)["resumed_from_epoch"] == done
    _assert_uninterrupted(run_dir)


def test_a_signal_before_the_first_epoch_keeps_nothing(tmp_path):
    """SIGINT while the run sets up (here: while JAX compiles its epoch, some seconds): one
    line, status 130, and the run's fresh directory is gone again."""
    run_dir = tmp_path / "run"
    proc = _popen("train", "backend=jax", *SMALL, "max_epochs=3", f"hydra.run.dir={run_dir}")
    deadline = time.monotonic() + 120
    while not (run_dir / ".hydra").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["fcnn: interrupted (SIGINT) before the first epoch ended; nothing "
                                "was saved"]
    assert not run_dir.exists()


# --- the resume rules ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A completed numpy run of 3 epochs."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    proc = run_fcnn("train", "backend=numpy", *SMALL, "max_epochs=3", "plot=false",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    return run_dir


def _snapshot(run_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "train.log"}


def _refused(run_dir: Path, *args: str) -> str:
    """Run `fcnn train ARGS`, expect one line and exit status 2, nothing in run_dir changed."""
    before = _snapshot(run_dir)
    proc = run_fcnn("train", *args)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("fcnn: error: ") and "Traceback" not in proc.stderr
    assert _snapshot(run_dir) == before
    return lines[0]


def test_resume_refuses_what_would_change_the_run(tmp_path, finished):
    """End to end: one line, exit status 2, nothing in the run's directory changed."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    # Harmless: max_epochs, and seed=2 and lr=0.1, which the run has. The rest conflicts.
    line = _refused(run_dir, f"resume={run_dir}", "struct=[64]", "backend=jax", "optimizer=adam",
                    "arch=small", "seed=2", "lr=0.1", "max_epochs=5")
    assert line == ("fcnn: error: resume: struct=[64] conflicts with the run's [16]; backend=jax "
                    "conflicts with the run's numpy; optimizer=adam conflicts with the run's sgd; "
                    "arch=small is not one of the run's own overrides (a resumed run keeps its own "
                    "config: only max_epochs, progress, plot, logger and checkpoint may change)")
    assert "already completed its 3 epochs" in _refused(run_dir, f"resume={run_dir}")
    assert "stays in its own directory" in _refused(
        run_dir, f"resume={run_dir}", f"hydra.run.dir={tmp_path / 'elsewhere'}")
    assert not (tmp_path / "elsewhere").exists()
    assert "resumes one run, not a sweep" in _refused(run_dir, "-m", f"resume={run_dir}")
    import fcntl

    fd = os.open(run_dir, os.O_RDONLY)  # as another `fcnn train` holds it while training
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert "is being trained by another fcnn train" in _refused(
            run_dir, f"resume={run_dir}", "max_epochs=5")
    finally:
        os.close(fd)


def test_resume_refuses_a_run_it_cannot_go_on_with(tmp_path, finished):
    """The checks on the run's state, in process: each one line (UsageError on `resume`)."""
    from fcnn_cli.errors import UsageError
    from fcnn_cli.hydra_app.resume import run_directory
    from fcnn_cli.runs import layout
    from fcnn_cli.training.resume import resume_point

    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    run = layout.RunDir(run_dir)
    s = _settings("numpy", "sgd", struct=[16], batch_size=8, seed=2, annealing=0.95)

    def refused(max_epochs: int) -> str:
        with pytest.raises(UsageError) as err:
            resume_point(run, from_config({**_config(s), "max_epochs": max_epochs}))
        assert err.value.key == "resume" and "\n" not in str(err.value)
        return err.value.message

    assert "already completed its 3 epochs" in refused(3)
    assert resume_point(run, _with(s, max_epochs=4)).epoch == 3  # trained further
    (run_dir / "metrics.json").unlink()  # as if killed while saving its results
    assert resume_point(run, _with(s, max_epochs=3)).epoch == 3
    assert "max_epochs=2 is fewer than the 3 epochs" in refused(2)
    (run_dir / "metrics.json").write_text(json.dumps({"status": "diverged", "epochs_completed": 3}))
    assert "diverged (epoch 3)" in refused(5)
    (run_dir / "metrics.json").unlink()
    checkpoint_file = run_dir / "checkpoint.npz"
    checkpoint_file.write_bytes(checkpoint_file.read_bytes()[:-100])
    assert "damaged checkpoint" in refused(5)
    checkpoint_file.unlink()
    assert "has no checkpoint.npz" in refused(5)
    for path, reason in ((tmp_path, "is not a run directory"), (tmp_path / "x", "does not exist"),
                         (run_dir / "curves.csv", "is not a directory")):
        with pytest.raises(UsageError, match=reason):
            run_directory(str(path))


def _config(s) -> dict:
    """A config mapping for `from_config` that gives the settings `s` (the keys used here)."""
    from dataclasses import asdict

    return {"backend": {"name": s.backend}, "dataset": {"name": s.dataset},
            "struct": list(s.struct), "batch_size": s.batch_size, "seed": s.seed,
            "annealing": s.annealing, "lr": s.lr, "max_epochs": s.max_epochs,
            "optimizer": asdict(s.optimizer)}


def _with(s, **changes):
    from dataclasses import replace

    return replace(s, **changes)


def test_a_run_killed_while_saving_resumes_to_the_same_results(tmp_path, finished):
    """SIGKILL leaves no metrics.json (an unfinished run) but the last epoch's checkpoint:
    resuming writes the very results the run would have written."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    for name in ("metrics.json", "model.npz", "curves.csv"):
        (run_dir / name).unlink()
    proc = run_fcnn("train", f"resume={run_dir}")
    assert proc.returncode == 0, proc.stderr
    _assert_same_run(run_dir, finished)


def test_a_completed_run_extended_equals_the_longer_run(tmp_path, finished):
    """resume=DIR max_epochs=N with N above what a completed run did trains on, in its
    directory, to exactly the run that was started with max_epochs=N; repeating a setting the
    run has is harmless; the saved config then says N."""
    from fcnn_cli.training.fit import fit

    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    proc = run_fcnn("train", f"resume={run_dir}", "max_epochs=5", "struct=[16]", "seed=2",
                    "backend=numpy")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    assert (metrics["status"], metrics["epochs_completed"], metrics["resumed_from_epoch"]) == (
        "completed", 5, 3)
    assert "max_epochs: 5" in (run_dir / ".hydra" / "config.yaml").read_text()

    s = from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"}, "struct": [16],
                     "batch_size": 8, "seed": 2, "annealing": 0.95, "lr": 0.1, "max_epochs": 5})
    backend, history = fit(s, datasets.load("digits"))
    with np.load(run_dir / "model.npz") as model:
        _assert_bitwise([(model["W0"], model["b0"]), (model["W1"], model["b1"])],
                        backend.get_params())
    rows = [{k: float(v) for k, v in row.items()} for row in _curve_rows(run_dir)]
    assert rows == [{k: float(row[k]) for k in rows[0]} for row in _curves(history)]


def test_ctrl_c_stops_a_sweep_after_the_running_job(tmp_path):
    """The basic launcher: the running job ends interrupted, no further job starts, the sweep
    ends with its summary and status 130; the job resumes on its own."""
    sweep = tmp_path / "sweep"
    proc = _popen("train", "-m", "backend=numpy", *SMALL, "max_epochs=30", "plot=false",
                  "seed=1,2,3", f"hydra.sweep.dir={sweep}")
    status, out, err = interrupt_at_checkpoint(proc, sweep / "0", signal.SIGINT)
    assert status == 130, err
    assert "Traceback" not in err
    assert read_metrics(sweep / "0")["status"] == "interrupted"
    assert not (sweep / "1").exists() and not (sweep / "2").exists()
    # Every job of the sweep is counted (issue 32), the skipped ones never announced.
    assert f"sweep: 3 jobs, 0 completed, 1 interrupted, 2 not started, 0 failed; runs in {sweep}" in out
    assert "  not started: 1, 2 (the sweep was interrupted)" in err
    assert "#1 :" not in out + err and "#2 :" not in out + err
    assert "fcnn: SIGINT received: stopping the running jobs after their epoch" in err
    assert f"resume with: fcnn train resume={sweep / '0'}" in err
    assert f"continue the sweep with: fcnn train -m resume={sweep}" in err
    assert err.splitlines()[-1].startswith("fcnn: the sweep was interrupted (SIGINT)")
    # Continued, the sweep resumes job 0 and runs the two it never started.
    again = run_fcnn("train", "-m", f"resume={sweep}")
    assert again.returncode == 0, again.stderr
    assert "continued: 0 jobs kept, 1 resumed, 2 rerun" in again.stdout
    assert [read_metrics(sweep / job)["status"] for job in "012"] == ["completed"] * 3


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_sweep_in_every_worker(tmp_path):
    """hydra/launcher=local (joblib): Ctrl-C reaches the terminal's whole process group, so
    each worker stops its job after the epoch; the jobs not started are skipped."""
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fcnn_cli", "train", "-m", "hydra/launcher=local",
         "hydra.launcher.n_jobs=2", "backend=numpy", *SMALL, "max_epochs=60", "plot=false",
         "seed=1,2,3,4", f"hydra.sweep.dir={sweep}"],
        cwd=REPO, env={**os.environ, "HYDRA_FULL_ERROR": "0"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not all((sweep / job / "checkpoint.npz").exists() for job in ("0", "1")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [read_metrics(sweep / job)["status"] for job in ("0", "1")] == ["interrupted"] * 2
    assert not (sweep / "2").exists() and not (sweep / "3").exists()
    assert "sweep: 4 jobs, 0 completed, 2 interrupted, 2 not started, 0 failed" in out
