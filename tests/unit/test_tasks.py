"""The tasks' formulas (fcnn_cli/core/tasks.py): gradients against finite differences and jax.grad,
the output error against scikit-learn, cross-backend agreement per task in float64, and class
subsets of the datasets.

FCNN_TEST_DEVICE=gpu runs the JAX side of the agreement tests on a GPU."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers.gradcheck import numerical_gradient

from fcnn_cli import backends
from fcnn_cli.config.settings import Settings
from fcnn_cli.core import model
from fcnn_cli.core.tasks import Autoencoder, Classify, LogReg
from fcnn_cli.data import datasets
from fcnn_cli.training import loop

D = 5
DEVICE = os.environ.get("FCNN_TEST_DEVICE", "cpu")


def _params(task, seed=0):
    rng = np.random.default_rng(seed)
    params = model.init_params(task.sizes(), seed=seed, dtype="float64")
    return [(w, rng.normal(scale=0.1, size=b.shape)) for w, b in params]  # non-zero biases


def _batch(task, seed=0, n=7):
    rng = np.random.default_rng(seed + 1)
    x = rng.random((n, D))  # in [0, 1) like pixels: the autoencoder's targets
    y = rng.integers(0, 3 if isinstance(task, Classify) else 2, size=n)
    return x, y, task.targets(np, x, y)


TASKS = {
    "logreg": LogReg(D, 1, ()),
    "autoencoder": Autoencoder(D, D, (4, 3)),
    "autoencoder-1": Autoencoder(D, D, (3,)),
    "classify": Classify(D, 3, (4,)),
}


@pytest.mark.parametrize("name", list(TASKS))
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_gradients_match_finite_differences(name, activation):
    """Hand-written back-propagation of the task's output error is the gradient of its loss."""
    task = TASKS[name]
    params = _params(task)
    x, _, t = _batch(task)
    grads = task.gradients(np, params, x, t, activation)
    for layer, ((w, b), (dw, db)) in enumerate(zip(params, grads, strict=True)):
        assert dw.shape == w.shape and db.shape == b.shape
        for array, grad in ((w, dw), (b, db)):
            numeric = numerical_gradient(lambda: task.mean_loss(np, params, x, t, activation), array)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8, err_msg=f"layer {layer}")


@pytest.mark.parametrize("name", list(TASKS))
def test_jax_grad_of_the_written_loss_equals_the_hand_written_gradient(name):
    import jax

    from fcnn_cli.backends.jax_backend import JaxBackend
    from fcnn_cli.backends.jax_grad_backend import JaxGradBackend

    task = TASKS[name]
    params = _params(task, seed=3)
    x, _, t = _batch(task, seed=3)
    reference = task.gradients(np, params, x, t, "tanh")
    with jax.enable_x64(True):
        hand = JaxBackend.gradients(task, params, x, t, "tanh")
        auto = JaxGradBackend.gradients(task, params, x, t, "tanh")
    for (rw, rb), (hw, hb), (aw, ab) in zip(reference, hand, auto, strict=True):
        for ref, h, a in ((rw, hw, aw), (rb, hb, ab)):
            np.testing.assert_allclose(np.asarray(h), ref, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(np.asarray(a), ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["logreg", "autoencoder", "classify"])
def test_numpy_in_place_output_error_equals_the_formula(name):
    task = TASKS[name]
    params = _params(task)
    x, y, t = _batch(task)
    a = model.logits(np, params, x, "relu")
    out = np.empty_like(a)
    task.numpy_output_error(a, x, y, out=out)
    np.testing.assert_allclose(out, task.output_error(np, a, t), rtol=1e-13, atol=1e-15)
    # The output error is the derivative of the summed per-sample losses by the logits.
    numeric = numerical_gradient(lambda: task.loss_sum(np, a, t), a)
    for index in np.ndindex(a.shape):
        assert out[index] == pytest.approx(numeric[index], rel=1e-6, abs=1e-9)


def test_losses_are_finite_for_huge_logits():
    a = np.array([[800.0], [-800.0], [0.0]])
    t = np.array([[0.0], [1.0], [1.0]])
    loss = LogReg(1, 1, ()).loss_sum(np, a, t)
    assert np.isfinite(loss) and loss == pytest.approx(1600 + np.log(2))


def test_autoencoder_mirrors_the_encoder_and_probes_its_code():
    task = Autoencoder(784, 784, (512, 256, 32))
    assert task.sizes() == [784, 512, 256, 32, 256, 512, 784]
    assert task.code_layer() == 3 and task.hidden_sizes()[task.code_layer() - 1] == 32
    assert Classify(784, 10, (512, 16, 256)).code_layer() == 2  # the narrowest layer


def test_squared_error_convention_is_mlpregressors_gradient():
    """One SGD step of scikit-learn's MLPRegressor (identity output, squared loss) from our
    weights equals ours: its `_backprop` descends half the squared error summed over the
    outputs, mean over samples, whose output error is y - T."""
    from sklearn.neural_network import MLPRegressor

    task = Autoencoder(D, D, (4, 3))
    params = _params(task)
    x, y, t = _batch(task)
    lr = 0.05
    mlp = MLPRegressor(hidden_layer_sizes=task.hidden_sizes(), activation="relu", solver="sgd",
                       learning_rate_init=lr, momentum=0.0, alpha=0.0, batch_size=x.shape[0],
                       shuffle=False, random_state=0)
    mlp.partial_fit(x, t)  # builds the layers and the optimizer
    mlp.coefs_ = [w.copy() for w, _ in params]
    mlp.intercepts_ = [b.copy() for _, b in params]
    mlp._optimizer.params = mlp.coefs_ + mlp.intercepts_  # the arrays it updates in place
    mlp.partial_fit(x, t)
    ours = [(w - lr * dw, b - lr * db)
            for (w, b), (dw, db) in zip(params, task.gradients(np, params, x, t, "relu"), strict=True)]
    moved = 0.0
    for (w, b), cw, cb, (w0, _) in zip(ours, mlp.coefs_, mlp.intercepts_, params, strict=True):
        np.testing.assert_allclose(cw, w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cb, b, rtol=1e-12, atol=1e-14)
        moved = max(moved, np.abs(w - w0).max())
    assert moved > 1e-4


# --- the tasks through the shared loop, on every from-scratch backend -----------------------------

def _settings(backend: str, task: str, **overrides) -> Settings:
    base = dict(backend=backend, dataset="digits", dataset_path=None, batch_size=32, max_epochs=2,
                lr=0.05, annealing=0.9, dtype="float64", task=task,
                device=DEVICE if backend in ("jax", "jax-grad") else "cpu")
    base.update({"logreg": dict(struct=(), classes=(3, 8), batch_size=16),
                 "autoencoder": dict(struct=(16, 6), lr=0.01)}[task])
    return Settings(**{**base, **overrides})


def _run(backend: str, task: str, **overrides):
    s = _settings(backend, task, **overrides)
    data = datasets.load("digits", dtype="float64", val_fraction=0.2, seed=1, classes=s.classes)
    b = backends.create(s, data)
    start = b.get_params()
    history = loop.run(b, s)
    return start, b.get_params(), history, b


@pytest.mark.parametrize("task", ["logreg", "autoencoder"])
def test_backends_agree_per_task_in_float64(task):
    """numpy, jax and jax-grad start from one seeded init, walk the same batches and end on the
    same weights and curves: the same loss, output error and gradient on every backend."""
    np_start, np_end, np_history, _ = _run("numpy", task)
    moved = max(np.abs(w - w0).max() for (w, _), (w0, _) in zip(np_end, np_start, strict=True))
    assert moved > 1e-3
    for name in ("jax", "jax-grad"):
        start, end, history, backend = _run(name, task)
        assert backend.device == "cpu" if DEVICE == "cpu" else backend.device.startswith("gpu:")
        for (w, b), (w_ref, b_ref) in zip(end, np_end, strict=True):
            np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-9 * np.abs(w_ref).max())
            np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-9 * max(np.abs(b_ref).max(), 1e-3))
        for ours, ref in zip(history.records, np_history.records, strict=True):
            assert ours.train_loss == pytest.approx(ref.train_loss, rel=1e-9)
            assert ours.test_loss == pytest.approx(ref.test_loss, rel=1e-9)
            assert ours.val_loss == pytest.approx(ref.val_loss, rel=1e-9)
            assert (ours.train_acc, ours.test_acc, ours.val_acc) == (ref.train_acc, ref.test_acc,
                                                                     ref.val_acc)


def test_autoencoder_has_losses_and_no_accuracy():
    _, params, history, backend = _run("numpy", "autoencoder", max_epochs=3)
    losses = [r.train_loss for r in history.records]
    assert losses[-1] < losses[0]
    assert all(r.train_acc is None and r.test_acc is None and r.val_acc is None
               for r in history.records)
    data = backend.data
    reconstruction = backend.predict(data.x_test)
    assert reconstruction.shape == data.x_test.shape
    # The test loss is half the squared reconstruction error per image.
    expected = 0.5 * ((reconstruction - data.x_test) ** 2).sum(axis=1).mean()
    assert history.last.test_loss == pytest.approx(expected, rel=1e-12)


def test_sklearn_sgdclassifier_follows_numpy_logreg_with_batch_one():
    """scikit-learn's own logistic regression by SGD (SGDClassifier, one update per sample),
    started from the shared weights and fed the loop's order, is the numpy backend's logistic
    regression with batch_size=1: an oracle for the hand-written BCE gradient."""
    np_start, np_end, np_history, _ = _run("numpy", "logreg", batch_size=1, lr=0.02)
    sk_start, sk_end, sk_history, _ = _run("sklearn", "logreg", batch_size=1, lr=0.02)
    assert all(np.array_equal(a, b) for pa, pb in zip(np_start, sk_start, strict=True)
               for a, b in zip(pa, pb, strict=True))
    (w, b), = sk_end
    (w_ref, b_ref), = np_end
    assert np.abs(w_ref - np_start[0][0]).max() > 1e-2  # far from the start
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-10)
    for ours, ref in zip(sk_history.records, np_history.records, strict=True):
        assert ours.lr == ref.lr and ours.train_loss == pytest.approx(ref.train_loss, rel=1e-9)


# --- class subsets ------------------------------------------------------------------------------

def test_class_subset_keeps_only_those_classes_relabelled_in_order():
    full = datasets.load("digits", dtype="float64")
    sub = datasets.load("digits", dtype="float64", classes=[8, 3])
    assert sub.n_classes == 2 and sub.classes == (8, 3)
    for split in ("train", "test"):
        x_full, y_full = full.split(split)
        x, y = sub.split(split)
        keep = (y_full == 8) | (y_full == 3)
        np.testing.assert_array_equal(x, x_full[keep])  # same images, same order
        np.testing.assert_array_equal(y, np.where(y_full[keep] == 8, 0, 1))
    # The validation split is carved from the subset: it holds those classes only.
    with_val = datasets.load("digits", val_fraction=0.25, seed=2, classes=[3, 8])
    assert set(np.unique(with_val.y_val)) == {0, 1}
    assert with_val.n_train + with_val.y_val.shape[0] == sub.n_train
    assert datasets.load("digits").classes == tuple(range(10))


@pytest.mark.mnist
def test_class_subset_on_mnist():
    data = datasets.load("mnist", classes=[3, 8])
    # MNIST has 6,131 threes and 5,851 eights for training, 1,010 and 974 for testing.
    assert np.bincount(data.y_train).tolist() == [6131, 5851]
    assert np.bincount(data.y_test).tolist() == [1010, 974]
