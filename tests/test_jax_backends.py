"""The jax and jax-grad backends: they learn, predict consistently, report their device and
compile time, and `device` is checked with one-line errors.

FCNN_TEST_DEVICE=gpu runs them on a GPU (scripts/gpu_check.sh)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import DIGITS_FAST, read_metrics, run_fcnn

from fcnn_cli import backends
from fcnn_cli.config.settings import Settings
from fcnn_cli.core import model
from fcnn_cli.data import datasets
from fcnn_cli.runs import curves, model_file
from fcnn_cli.training import loop

DEVICE = os.environ.get("FCNN_TEST_DEVICE", "cpu")


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.fixture(scope="module", params=["jax", "jax-grad"])
def trained(request, digits):
    s = Settings(backend=request.param, dataset="digits", dataset_path=None, struct=(64,),
                 batch_size=16, max_epochs=8, lr=0.1, annealing=0.95, device=DEVICE)
    backend = backends.create(s, digits)
    return backend, loop.run(backend, s)


def test_learns_digits(trained):
    backend, history = trained
    assert history.status == "completed"
    assert history.last.test_acc > 0.90
    losses = [r.train_loss for r in history.records]
    assert losses[-1] < losses[0] / 2


def test_reports_device_and_compile_time(trained):
    backend, history = trained
    assert backend.device == "cpu" if DEVICE == "cpu" else backend.device.startswith("gpu:")
    assert backend.compile_seconds > 0
    # Compilation happened at construction, outside the timed epochs.
    assert history.fit_seconds > 0


def test_predict_and_evaluate_agree_with_the_reference_forward(trained, digits):
    backend, _ = trained
    params = backend.get_params()
    assert all(w.dtype == np.float32 for w, _ in params)
    labels = backend.predict(digits.x_test)
    reference = model.logits(np, params, digits.x_test).argmax(axis=1)
    assert (labels == reference).mean() > 0.99  # float32 rounding may flip a near-tie
    loss, acc = backend.evaluate("test")
    assert acc == pytest.approx((labels == digits.y_test).mean())
    assert loss == pytest.approx(backend.task.mean_loss(
        np, params, digits.x_test, np.eye(10)[digits.y_test], "relu"), rel=1e-4)


def test_get_params_is_a_copy_that_survives_further_epochs(trained, digits):
    """The device buffers are donated to the next epoch; handed-out weights must not change."""
    backend, _ = trained
    before = backend.get_params()
    snapshot = [(w.copy(), b.copy()) for w, b in before]
    backend.train_epoch(np.random.default_rng(0).permutation(digits.n_train), 0.1)
    for (w, b), (w0, b0) in zip(before, snapshot, strict=True):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
    assert any(not np.array_equal(w, w0) for (w, _), (w0, _) in zip(backend.get_params(), snapshot,
                                                                     strict=True))


def test_cli_train_jax_float64(tmp_path):
    run_dir = tmp_path / "run"
    device = "auto" if DEVICE == "cpu" else DEVICE
    proc = run_fcnn("train", "backend=jax", *DIGITS_FAST, "dtype=float64", f"device={device}",
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
    proc = run_fcnn("train", "backend=jax-grad", "device=gpu", *DIGITS_FAST,
                    f"hydra.run.dir={tmp_path / 'run'}")
    _assert_one_line_error(proc, "no GPU", "device=cpu", "device=auto")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_device_gpu_with_numpy_is_a_one_line_error(tmp_path):
    proc = run_fcnn("train", "backend=numpy", "device=gpu", *DIGITS_FAST,
                    f"hydra.run.dir={tmp_path / 'run'}")
    _assert_one_line_error(proc, "backend=numpy", "jax", "cpu, auto")


@pytest.mark.mnist
def test_one_epoch_of_the_timing_job_on_mnist(tmp_path):
    proc = run_fcnn("train", "backend=jax", "experiment=timing", "max_epochs=1", "progress=false",
                    "plot=false", f"device={DEVICE}", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["n_train"] == 60000 and metrics["batch_size"] == 100
    assert metrics["test_acc"] > 0.94
    assert metrics["compile_seconds"] > 0
