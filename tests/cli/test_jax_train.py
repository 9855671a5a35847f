"""The JAX backends through a real `fcnn train`: float64 on jax, device=gpu without a GPU as a
one-line error, and an epoch of the timing job on MNIST. In process: tests/unit/test_jax_backends.py;
device=gpu with numpy: tests/unit/test_settings_validation.py.

FCNN_TEST_DEVICE=gpu runs them on a GPU (scripts/gpu_check.sh)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import DIGITS_FAST, read_metrics, train_here

from fcnn_cli.core import model
from fcnn_cli.data import datasets
from fcnn_cli.runs import curves, model_file

DEVICE = os.environ.get("FCNN_TEST_DEVICE", "cpu")


def test_cli_train_jax_float64(tmp_path):
    run_dir = tmp_path / "run"
    device = "auto" if DEVICE == "cpu" else DEVICE
    proc = train_here("backend=jax", *DIGITS_FAST, "dtype=float64", f"device={device}",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    metrics = read_metrics(run_dir)
    assert metrics["backend"] == "jax" and metrics["dtype"] == "float64"
    assert metrics["device"] == "cpu" if DEVICE == "cpu" else metrics["device"].startswith("gpu:")
    assert metrics["compile_seconds"] > 0 and metrics["fit_seconds"] > 0
    assert metrics["epochs_completed"] == 3
    # The saved model, re-scored by the numpy formulas, gives the reported test accuracy.
    params, activation = model_file.load_model(run_dir / "model.npz")
    assert params[0][0].dtype == np.float64
    data = datasets.load("digits", dtype="float64")
    predicted = model.logits(np, params, data.x_test, activation).argmax(axis=1)
    assert (predicted == data.y_test).mean() == pytest.approx(metrics["test_acc"])
    assert len(curves.read_curves(run_dir / "curves.csv")) == 3


def _assert_one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fcnn: error: device:")
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.skipif(DEVICE != "cpu", reason="this machine has a GPU")
def test_device_gpu_without_gpu_is_a_one_line_error(tmp_path):
    from fcnn_cli.devices import gpu_devices

    if gpu_devices():
        pytest.skip("JAX sees a GPU here")
    proc = train_here("backend=jax-grad", "device=gpu", *DIGITS_FAST,
                    f"hydra.run.dir={tmp_path / 'run'}")
    _assert_one_line_error(proc, "no GPU", "device=cpu", "device=auto")
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.mnist
def test_one_epoch_of_the_timing_job_on_mnist(tmp_path):
    proc = train_here("backend=jax", "experiment=timing", "max_epochs=1", "progress=false",
                    "plot=false", f"device={DEVICE}", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["n_train"] == 60000 and metrics["batch_size"] == 100
    assert metrics["test_acc"] > 0.94
    assert metrics["compile_seconds"] > 0
