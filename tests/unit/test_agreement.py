"""Cross-backend agreement: with one seed, numpy, jax and jax-grad start from the same weights,
walk the same batches and end on the same parameters, optimizer state and curves (float64, so
that only rounding separates them), with plain SGD (also with an L2 penalty), Adam, and Nesterov
momentum plus an L2 penalty. The JAX gradients are checked against each other and finite differences.

FCNN_TEST_DEVICE=gpu runs the JAX side on a GPU (scripts/gpu_check.sh)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers.gradcheck import numerical_derivative

from fcnn_cli import backends
from fcnn_cli.config.settings import OptimizerSettings, Settings
from fcnn_cli.core import model, optim
from fcnn_cli.core.tasks import Classify
from fcnn_cli.data import datasets
from fcnn_cli.training import loop

DEVICE = os.environ.get("FCNN_TEST_DEVICE", "cpu")

# optimizer -> (its settings, lr)
OPTIMIZERS = {
    "sgd": (OptimizerSettings(), 0.1),
    "adam": (OptimizerSettings(name="adam"), 0.01),
    "nesterov+alpha": (OptimizerSettings(momentum=0.9, nesterov=True, alpha=1e-2), 0.05),
    # numpy decays W inside the gradient's BLAS product (gemm's beta = 1 - lr alpha / B)
    "sgd+alpha": (OptimizerSettings(alpha=1e-2), 0.1),
}


def _settings(backend: str, optimizer: str = "sgd", **overrides) -> Settings:
    # Batch 32 on 1,437 digits leaves a last batch of 29: agreement shows that every backend
    # keeps it (and, with alpha, scales the penalty by that batch's own size).
    opt, lr = OPTIMIZERS[optimizer]
    base = dict(backend=backend, dataset="digits", dataset_path=None, struct=(16, 8),
                batch_size=32, max_epochs=2, lr=lr, annealing=0.9, dtype="float64",
                device=DEVICE if backend != "numpy" else "cpu", optimizer=opt)
    return Settings(**{**base, **overrides})


@pytest.fixture(scope="module")
def digits64():
    return datasets.load("digits", dtype="float64")


@pytest.fixture(scope="module", params=list(OPTIMIZERS))
def numpy_run(request, digits64):
    settings = _settings("numpy", request.param)
    backend = backends.create(settings, digits64)
    start = backend.get_params()
    history = loop.run(backend, settings)
    return request.param, start, backend.get_params(), backend.get_opt_state(), history


def _assert_params_close(actual, expected, rtol):
    for layer, (pair, pair_ref) in enumerate(zip(actual, expected, strict=True)):
        for a, e in zip(pair, pair_ref, strict=True):
            assert a.dtype == e.dtype == np.float64
            # Relative to the array's scale: single entries near zero carry no relative meaning.
            np.testing.assert_allclose(a, e, rtol=0, atol=rtol * np.abs(e).max(), err_msg=f"layer {layer}")


@pytest.mark.parametrize("name", ["jax", "jax-grad"])
def test_jax_backends_match_numpy(name, digits64, numpy_run):
    import jax
    import jax.numpy as jnp

    optimizer, numpy_start, numpy_end, numpy_state, numpy_history = numpy_run
    x64_before = jax.config.jax_enable_x64
    settings = _settings(name, optimizer)
    backend = backends.create(settings, digits64)
    _assert_params_close(backend.get_params(), numpy_start, rtol=0)  # the same seeded init
    history = loop.run(backend, settings)

    _assert_params_close(backend.get_params(), numpy_end, rtol=1e-9)
    # The optimizer's state too: the update count and every buffer (velocities, moments).
    state = backend.get_opt_state()
    n_steps = 2 * -(-digits64.n_train // 32)
    assert int(state.step) == int(numpy_state.step) == n_steps
    assert set(state.slots) == set(numpy_state.slots) == set(
        optim.SLOTS[optim.kind(settings.optimizer)])
    for slot in state.slots:
        _assert_params_close(state.slots[slot], numpy_state.slots[slot], rtol=1e-9)
    # Training moved the weights far beyond the tolerance, so the agreement is not trivial.
    moved = max(np.abs(w - w0).max() for (w, _), (w0, _) in zip(numpy_end, numpy_start, strict=True))
    assert moved > 1e-3
    assert len(history.records) == len(numpy_history.records) == 2
    for ours, ref in zip(history.records, numpy_history.records, strict=True):
        assert ours.lr == ref.lr
        assert ours.train_loss == pytest.approx(ref.train_loss, rel=1e-9)
        assert ours.train_acc == ref.train_acc
        assert ours.test_acc == ref.test_acc
    # The float64 run enabled JAX's 64-bit mode only around its own calls.
    assert jax.config.jax_enable_x64 == x64_before
    if not x64_before:
        assert jnp.asarray(1.0).dtype == jnp.float32


def _problem(struct, seed=0, n=6, d=5, k=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.eye(k)[rng.integers(0, k, size=n)]
    params = model.init_params(model.layer_sizes(d, struct, k), seed=seed, dtype="float64")
    params = [(w, rng.normal(scale=0.1, size=b.shape)) for w, b in params]  # non-zero biases
    return params, x, y


@pytest.mark.parametrize("struct", [(), (7, 5)])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_jax_gradients_agree_with_each_other_and_finite_differences(struct, activation):
    import jax

    from fcnn_cli.backends.jax_backend import JaxBackend
    from fcnn_cli.backends.jax_grad_backend import JaxGradBackend

    params, x, y = _problem(struct)
    task = Classify(5, 3, struct)
    with jax.enable_x64(True):
        hand = JaxBackend.gradients(task, params, x, y, activation)
        auto = JaxGradBackend.gradients(task, params, x, y, activation)
        loss = jax.jit(lambda p: task.mean_loss(jax.numpy, p, x, y, activation))
        rng = np.random.default_rng(1)
        for (w, b), (dw, db), (gw, gb) in zip(params, hand, auto, strict=True):
            for array, h, g in ((w, dw, gw), (b, db, gb)):
                h, g = np.asarray(h), np.asarray(g)
                np.testing.assert_allclose(h, g, rtol=1e-10, atol=1e-13)
                for _ in range(4):  # a few random coordinates by central differences
                    index = tuple(rng.integers(0, s) for s in array.shape)
                    numeric = numerical_derivative(lambda: loss(params), array, index)
                    assert h[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
