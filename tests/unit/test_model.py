"""The lab's formulas: gradients against finite differences, the in-place numpy step against the
reference formulas, and numerical stability."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.gradcheck import numerical_gradient

from fcnn_cli.backends.numpy_backend import NumpyBackend
from fcnn_cli.config.settings import Settings
from fcnn_cli.core import model
from fcnn_cli.core.tasks import Classify
from fcnn_cli.data import datasets

CLASSIFY = Classify(5, 3, ())  # backward and the loss do not depend on the task's shapes


def _problem(struct, seed=0, n=6, d=5, k=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.eye(k)[rng.integers(0, k, size=n)]
    params = model.init_params(model.layer_sizes(d, struct, k), seed=seed, dtype="float64")
    # Non-zero biases so their gradients are exercised away from the init.
    params = [(w, rng.normal(scale=0.1, size=b.shape)) for w, b in params]
    return params, x, y


@pytest.mark.parametrize("struct", [[], [7], [7, 5]])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_backward_matches_finite_differences(struct, activation):
    params, x, y = _problem(struct)
    grads = CLASSIFY.gradients(np, params, x, y, activation)
    for layer, ((w, b), (dw, db)) in enumerate(zip(params, grads, strict=True)):
        for array, grad in ((w, dw), (b, db)):
            numeric = numerical_gradient(lambda: CLASSIFY.mean_loss(np, params, x, y, activation), array)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8, err_msg=f"layer {layer}")


@pytest.mark.parametrize("struct", [(), (7,), (7, 5)])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_numpy_inplace_step_equals_reference_sgd(struct, activation):
    """The backend's fused in-place step is exactly W -= lr * backward(...), batch by batch,
    including the last, smaller batch."""
    data = datasets.load("digits", dtype="float64")
    s = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=struct,
                 activation=activation, batch_size=32, lr=0.3, dtype="float64")
    backend = NumpyBackend(s, data)
    params = backend.get_params()
    order = np.random.default_rng(3).permutation(data.n_train)[:80]  # batches of 32, 32, 16
    backend.train_epoch(order, s.lr)
    for start in range(0, order.size, s.batch_size):
        idx = order[start : start + s.batch_size]
        grads = backend.task.gradients(np, params, data.x_train[idx], np.eye(10)[data.y_train[idx]],
                                       activation)
        params = [(w - s.lr * dw, b - s.lr * db) for (w, b), (dw, db) in zip(params, grads, strict=True)]
    for (w, b), (w_ref, b_ref) in zip(backend.get_params(), params, strict=True):
        np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, b_ref, rtol=1e-12, atol=1e-14)


def test_softmax_and_loss_stable_on_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [1e30, 1e30, -1e30]], dtype=np.float32)
    probs = model.softmax(np, logits)
    logp = model.log_softmax(np, logits)
    assert np.all(np.isfinite(probs)) and np.all(np.isfinite(logp[:, :2]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs[0], [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(probs[1, :2], [0.5, 0.5], rtol=1e-6)
    assert logp[0, 0] == 0.0


def test_evaluate_reports_finite_loss_when_a_probability_underflows():
    """Curve C uses log-softmax, so a confident wrong answer costs a large finite loss rather
    than log(0) = inf (which would be mistaken for divergence)."""
    data = datasets.load("digits", dtype="float32")
    s = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=())
    backend = NumpyBackend(s, data)
    w, b = backend.params[0]
    b[:] = 0
    b[(data.y_train[0] + 1) % 10] = 200.0  # exp(-200) underflows float32
    loss, acc = backend.evaluate("train")
    assert np.isfinite(loss) and loss > 100


def test_init_is_seeded_glorot_uniform():
    sizes = [784, 500, 10]
    a = model.init_params(sizes, seed=5)
    b = model.init_params(sizes, seed=5)
    c = model.init_params(sizes, seed=6)
    assert all(np.array_equal(wa, wb) for (wa, _), (wb, _) in zip(a, b, strict=True))
    assert not np.array_equal(a[0][0], c[0][0])
    bound = 4.90 * 0.5 / np.sqrt(784 + 500)
    assert np.abs(a[0][0]).max() <= bound and np.abs(a[0][0]).max() > 0.95 * bound
    assert a[0][0].dtype == np.float32 and not a[0][1].any()
    # float64 init is the same draw, so both dtypes start from the same point
    d = model.init_params(sizes, seed=5, dtype="float64")
    np.testing.assert_allclose(d[0][0], a[0][0], rtol=1e-7)


def test_numpy_backend_learns_digits():
    from fcnn_cli.training import loop

    data = datasets.load("digits")
    s = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=(64,), lr=0.1,
                 annealing=0.95, batch_size=10, max_epochs=15)
    history = loop.run(NumpyBackend(s, data), s)
    assert history.status == "completed" and len(history.records) == 15
    assert history.last.test_acc > 0.90
    losses = [r.train_loss for r in history.records]
    assert losses[-1] < losses[0] / 3
    assert [r.lr for r in history.records[:2]] == pytest.approx([0.1, 0.095])


def test_divergence_stops_the_run():
    from fcnn_cli.training import loop

    data = datasets.load("digits")
    s = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=(64,), lr=1e10,
                 batch_size=10, max_epochs=5)
    history = loop.run(NumpyBackend(s, data), s)
    assert history.status == "diverged"
    assert len(history.records) < 5
    assert not np.isfinite(history.last.train_loss)
