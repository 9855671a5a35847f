"""The jax and jax-grad backends: they learn, predict consistently, report their device and
compile time. Through a real `fcnn train`, and `device` checked with one-line errors:
tests/cli/test_jax_train.py.

FCNN_TEST_DEVICE=gpu runs them on a GPU (scripts/gpu_check.sh)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fcnn_cli import backends
from fcnn_cli.config.settings import Settings
from fcnn_cli.core import model
from fcnn_cli.data import datasets
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
