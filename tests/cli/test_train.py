"""`fcnn train` end to end, as a user runs it, in a temporary directory: --help, the files of a
run, seeds, Hydra's features, -m, every optimizer on every backend, and an installed wheel."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import DIGITS_FAST, NUMPY_FAST, REPO, read_metrics, run_fcnn, train_here, train_output


def test_top_level_help_lists_subcommands_fast():
    start = time.perf_counter()
    result = run_fcnn("--help")
    assert result.returncode == 0
    for command in ("train", "data"):
        assert f"  {command}" in result.stdout
    assert time.perf_counter() - start < 10  # generous; the real check is the import test below


def test_train_writes_every_output(tmp_path):
    """The default backend (jax) end to end; every backend writes the same files."""
    run_dir = tmp_path / "run"
    result = train_here(*DIGITS_FAST, "seed=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    last_line = train_output(result.stdout)[-1]
    metrics = read_metrics(run_dir)
    assert f"{100 * metrics['test_acc']:.2f}%" in last_line and str(run_dir) in last_line

    for key in ("backend", "dataset", "struct", "status", "epochs_completed", "train_loss",
                "train_acc", "test_acc", "fit_seconds", "predict_seconds", "seed", "versions"):
        assert key in metrics, key
    assert metrics["backend"] == "jax" and metrics["device"] == "cpu"
    assert metrics["dataset"] == "digits" and metrics["compile_seconds"] > 0
    assert metrics["struct"] == [32] and metrics["seed"] == 3
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 3
    assert 0.5 < metrics["test_acc"] <= 1 and metrics["fit_seconds"] > 0
    assert set(metrics["versions"]) >= {"python", "numpy", "jax", "scikit-learn"}

    with open(run_dir / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "lr", "train_loss", "train_acc", "test_acc", "seconds"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # default annealing 0.9 applied after every epoch
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.1, 0.09, 0.081])
    assert float(rows[-1]["test_acc"]) == pytest.approx(metrics["test_acc"])
    assert float(rows[-1]["train_loss"]) == pytest.approx(metrics["train_loss"])
    seconds = [float(r["seconds"]) for r in rows]
    assert seconds == sorted(seconds) and seconds[-1] == pytest.approx(metrics["fit_seconds"])

    png = (run_dir / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    with np.load(run_dir / "model.npz", allow_pickle=False) as z:
        assert z["W0"].shape == (64, 32) and z["b0"].shape == (32,)
        assert z["W1"].shape == (32, 10) and z["b1"].shape == (10,)
        assert list(z["struct"]) == [32] and str(z["activation"]) == "relu"
    # the saved model reproduces the reported test accuracy
    from fcnn_cli.core import model
    from fcnn_cli.data import datasets
    from fcnn_cli.runs.model_file import load_model

    params, activation = load_model(run_dir / "model.npz")
    data = datasets.load("digits")
    predicted = model.logits(np, params, data.x_test, activation).argmax(axis=1)
    assert np.mean(predicted == data.y_test) == pytest.approx(metrics["test_acc"])

    config = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "seed: 3" in config


def test_same_seed_same_result(tmp_path):
    runs = []
    for name in ("a", "b"):
        result = train_here(*NUMPY_FAST, f"hydra.run.dir={tmp_path / name}", "plot=false")
        assert result.returncode == 0, result.stderr
        runs.append(read_metrics(tmp_path / name))
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["test_acc"] == runs[1]["test_acc"]


def test_hydra_features(tmp_path):
    job = train_here("--cfg", "job", "struct=[]", "lr=0.5", "dataset=digits")
    assert job.returncode == 0
    assert "struct: []" in job.stdout and "lr: 0.5" in job.stdout and "name: digits" in job.stdout
    helptext = train_here("--help")
    assert helptext.returncode == 0
    for word in ("backend", "dataset", "optimizer", "device", "struct", "annealing"):
        assert word in helptext.stdout
    # +key=value adds a key, as in any Hydra app
    extra = train_here("--cfg", "job", "+note=hello")
    assert extra.returncode == 0 and "note: hello" in extra.stdout
    # experiments and named architectures compose, in process: tests/unit/test_compose.py
    # (test_experiments_and_named_architectures_compose)


def test_multirun_on_numpy(tmp_path):
    result = run_fcnn("train", "-m", *NUMPY_FAST, "lr=0.1,0.05", "plot=false",
                      f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    lrs = sorted(read_metrics(tmp_path / str(i))["lr"] for i in range(2))
    assert lrs == [0.05, 0.1]


def test_softmax_regression_struct_empty(tmp_path):
    result = train_here(*NUMPY_FAST, "struct=[]", "plot=false", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert read_metrics(tmp_path)["struct"] == []
    with np.load(tmp_path / "model.npz", allow_pickle=False) as z:
        assert z["W0"].shape == (64, 10) and "W1" not in z.files


def test_diverged_run_is_reported(tmp_path):
    result = train_here(*NUMPY_FAST, "lr=1e10", "plot=false", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "diverged" and metrics["epochs_completed"] < 3
    assert "diverged" in train_output(result.stdout)[-1]


def test_float64(tmp_path):
    result = train_here(*NUMPY_FAST, "dtype=float64", "plot=false", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "model.npz", allow_pickle=False) as z:
        assert z["W0"].dtype == np.float64


def test_installed_wheel_runs_from_any_directory(tmp_path):
    """A plain (non-editable) install carries the YAML tree inside the package."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    str(REPO), "-w", str(wheel_dir)], check=True, capture_output=True)
    (wheel,) = wheel_dir.glob("fcnn_cli-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    assert (target / "fcnn_cli" / "conf" / "experiment" / "ex5_2.yaml").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target)}
    code = "import fcnn_cli, sys; print(fcnn_cli.__file__)"
    where = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True,
                           text=True, check=True)
    assert where.stdout.startswith(str(target))
    result = subprocess.run(
        [sys.executable, "-m", "fcnn_cli", "train", "experiment=ex5_2", "dataset=digits", "struct=[16]",
         "max_epochs=1", "progress=false", "plot=false", "hydra.run.dir=out"],
        cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((elsewhere / "out" / "metrics.json").read_text())["batch_size"] == 10


@pytest.mark.parametrize("backend", ["numpy", "jax", "jax-grad", "sklearn"])
def test_cli_trains_with_adam_on_every_backend(tmp_path, backend):
    proc = train_here(f"backend={backend}", "optimizer=adam", "lr=0.001", *DIGITS_FAST,
                    f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(tmp_path)
    assert (metrics["backend"], metrics["optimizer"], metrics["lr"]) == (backend, "adam", 0.001)
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 3
    assert metrics["test_acc"] > 0.7  # 3 epochs of [32] on digits; chance is 0.1
