"""The hand-written optimizers (fcnn_cli.core.optim, and numpy's in-place version) against oracles:
optax step by step where the definitions coincide, scikit-learn's own SGDOptimizer,
AdamOptimizer and MLPClassifier._backprop for its meanings of momentum, Nesterov and alpha.
`fcnn train optimizer=adam` on every backend: tests/cli/test_train.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fcnn_cli.backends import numpy_optim
from fcnn_cli.config.settings import OptimizerSettings
from fcnn_cli.core import optim
from fcnn_cli.core.tasks import Classify

SIZES = [6, 5, 4, 3]  # three layers: every slot has W and b of several shapes
STEPS = 25


def _params(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]


def _grads(params, step: int) -> list:
    """A gradient that depends on the parameters and on the step, so trajectories can drift."""
    rng = np.random.default_rng(1000 + step)
    return [(0.3 * w + rng.normal(size=w.shape), 0.3 * b + rng.normal(size=b.shape))
            for w, b in params]


def _lr(step: int) -> float:
    """An annealed rate, as the loop sets it (changing every few updates)."""
    return 0.05 * 0.9 ** (step // 4)


def _flat(params) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(a)) for pair in params for a in pair])


def _assert_close(actual, expected, rtol):
    a, e = _flat(actual), _flat(expected)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * np.abs(e).max())


def _run_ours(opt: optim.Optimizer, params, lrs, n=10):
    state = opt.init(params)
    trajectory = []
    for step, lr in enumerate(lrs):
        updates, state = opt.update(_grads(params, step), state, params, lr, n)
        params = optim.apply_updates(params, updates)
        trajectory.append(params)
    return trajectory, state


def _run_optax(tx, params, lrs=None):
    """optax's trajectory from the same start and gradients (float64); lrs: injected per step."""
    import jax

    with jax.enable_x64(True):
        state = tx.init(params)
        trajectory = []
        for step in range(STEPS):
            if lrs is not None:
                state.hyperparams["learning_rate"] = lrs[step]
            updates, state = tx.update(_grads(params, step), state, params)
            params = [tuple(np.asarray(a) for a in pair) for pair in jax.tree.map(
                lambda p, u: p + u, params, updates, is_leaf=lambda x: isinstance(x, np.ndarray))]
            trajectory.append(params)
    return trajectory


def _assert_trajectories(ours, reference, rtol=1e-6):
    assert len(ours) == len(reference) == STEPS
    for step, (a, e) in enumerate(zip(ours, reference, strict=True)):
        _assert_close(a, e, rtol)
        if step == STEPS - 1:  # and the walk went somewhere: the agreement is not trivial
            assert np.abs(_flat(a) - _flat(_params())).max() > 0.1


# --- optax, where the definitions coincide ------------------------------------------------------

def test_adam_follows_optax_adam_step_by_step_with_annealing():
    import optax

    lrs = [_lr(step) for step in range(STEPS)]
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=lrs[0], b1=0.8, b2=0.99, eps=1e-3)
    reference = _run_optax(tx, _params(), lrs)
    ours, state = _run_ours(optim.adam(np, beta1=0.8, beta2=0.99, epsilon=1e-3), _params(), lrs)
    _assert_trajectories(ours, reference)
    assert int(state.step) == STEPS and set(state.slots) == {"m", "v"}


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_follows_optax_sgd_step_by_step(nesterov):
    import optax

    # optax keeps the velocity without the rate (t = g + mu t, update -lr t): the same walk
    # as scikit-learn's (v = mu v - lr g) while the rate is constant.
    reference = _run_optax(optax.sgd(0.05, momentum=0.9, nesterov=nesterov), _params())
    ours, state = _run_ours(optim.sgd(np, momentum=0.9, nesterov=nesterov), _params(), [0.05] * STEPS)
    _assert_trajectories(ours, reference)
    assert set(state.slots) == {"velocity"}


def test_l2_penalty_follows_optax_decayed_weights_on_weights_only():
    import optax

    alpha, n = 0.5, 8
    mask = [(True, False)] * (len(SIZES) - 1)  # weights decay, biases do not
    tx = optax.chain(optax.add_decayed_weights(alpha / n, mask=mask),
                     optax.sgd(0.05, momentum=0.9, nesterov=True))
    reference = _run_optax(tx, _params())
    ours, _ = _run_ours(optim.sgd(np, momentum=0.9, nesterov=True, alpha=alpha), _params(),
                        [0.05] * STEPS, n=n)
    _assert_trajectories(ours, reference)


def test_plain_sgd_follows_optax_and_keeps_no_buffers():
    import optax

    lrs = [_lr(step) for step in range(STEPS)]
    reference = _run_optax(optax.inject_hyperparams(optax.sgd)(learning_rate=lrs[0]), _params(), lrs)
    ours, state = _run_ours(optim.sgd(np), _params(), lrs)
    _assert_trajectories(ours, reference)
    assert state.slots == {} and int(state.step) == STEPS


# --- scikit-learn's own classes: its meanings of momentum, Nesterov, alpha and Adam -------------

def _sklearn_walk(optimizer, params, set_lr, n_steps=STEPS):
    """Drive a scikit-learn optimizer (it updates its `params` list in place) with our gradients."""
    trajectory = []
    for step in range(n_steps):
        set_lr(optimizer, step)
        pairs = list(zip(params[: len(params) // 2], params[len(params) // 2 :], strict=True))
        grads = _grads(pairs, step)
        optimizer.update_params(params, [g for g, _ in grads] + [g for _, g in grads])
        trajectory.append([(w.copy(), b.copy()) for w, b in
                           zip(params[: len(params) // 2], params[len(params) // 2 :], strict=True)])
    return trajectory


def _sklearn_params():
    """scikit-learn's parameter list: coefs_ then intercepts_ (copies of ours)."""
    start = _params()
    return [w.copy() for w, _ in start] + [b.copy() for _, b in start]


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_match_sklearn_sgd_optimizer_under_annealing(nesterov):
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    params = _sklearn_params()
    sk = SGDOptimizer(params, learning_rate_init=_lr(0), momentum=0.9, nesterov=nesterov)

    def set_lr(opt, step):
        opt.learning_rate = _lr(step)  # what backend=sklearn does before every epoch

    reference = _sklearn_walk(sk, params, set_lr)
    lrs = [_lr(step) for step in range(STEPS)]
    ours, _ = _run_ours(optim.sgd(np, momentum=0.9, nesterov=nesterov), _params(), lrs)
    # The velocity carries the rate it was built with, so when the rate changes this differs
    # from optax's momentum; scikit-learn is the definition followed.
    _assert_trajectories(ours, reference, rtol=1e-10)


def test_adam_is_sklearn_adam_with_a_bias_corrected_epsilon():
    """scikit-learn adds eps to sqrt(v); Algorithm 8.9 adds it to sqrt(vhat). Ours equals
    scikit-learn's exactly when its eps is replaced by eps * sqrt(1 - b2^t) at step t."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    b1, b2, eps = 0.8, 0.99, 1e-3
    params = _sklearn_params()
    sk = AdamOptimizer(params, learning_rate_init=_lr(0), beta_1=b1, beta_2=b2, epsilon=eps)

    def set_lr(opt, step):
        opt.learning_rate_init = _lr(step)
        opt.epsilon = eps * math.sqrt(1 - b2 ** (step + 1))

    reference = _sklearn_walk(sk, params, set_lr)
    lrs = [_lr(step) for step in range(STEPS)]
    ours, _ = _run_ours(optim.adam(np, b1, b2, eps), _params(), lrs)
    _assert_trajectories(ours, reference, rtol=1e-10)

    # With scikit-learn's own (uncorrected) eps the walks differ, by more than rounding.
    params = _sklearn_params()
    plain = AdamOptimizer(params, learning_rate_init=_lr(0), beta_1=b1, beta_2=b2, epsilon=eps)
    different = _sklearn_walk(plain, params, lambda opt, step: setattr(opt, "learning_rate_init",
                                                                       _lr(step)))
    assert np.abs(_flat(different[-1]) - _flat(ours[-1])).max() > 1e-6


def test_alpha_is_mlpclassifier_backprop_l2_gradient():
    """MLPClassifier._backprop's gradients with alpha equal ours: the classifier's hand-written
    back-propagation (tasks.Classify.gradients) + add_l2."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(3)
    n, alpha = 7, 0.3
    x = rng.normal(size=(n, SIZES[0]))
    labels = np.arange(n) % SIZES[-1]
    y = np.eye(SIZES[-1])[labels]
    params = _params()
    clf = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], activation="tanh", alpha=alpha)
    clf.coefs_ = [w.copy() for w, _ in params]
    clf.intercepts_ = [b.copy() for _, b in params]
    clf.n_layers_, clf.out_activation_, clf.loss = len(SIZES), "softmax", "log_loss"
    activations = [x] + [None] * (len(SIZES) - 1)
    deltas = [None] * (len(SIZES) - 1)
    coef_grads = [np.empty_like(w) for w, _ in params]
    intercept_grads = [np.empty_like(b) for _, b in params]
    _, coef_grads, intercept_grads = clf._backprop(x, y, None, activations, deltas, coef_grads,
                                                   intercept_grads)

    task = Classify(SIZES[0], SIZES[-1], tuple(SIZES[1:-1]))
    grads = optim.add_l2(task.gradients(np, params, x, y, "tanh"), params, alpha, n)
    for (dw, db), cw, cb in zip(grads, coef_grads, intercept_grads, strict=True):
        np.testing.assert_allclose(dw, cw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(db, cb, rtol=1e-12, atol=1e-14)
    # The penalty moved the weight gradients, and only them.
    plain = task.gradients(np, params, x, y, "tanh")
    assert all(not np.allclose(dw, pw) for (dw, _), (pw, _) in zip(grads, plain, strict=True))
    assert all(np.array_equal(db, pb) for (_, db), (_, pb) in zip(grads, plain, strict=True))


# --- numpy's in-place version against the pure one ----------------------------------------------

CONFIGS = {
    "sgd": OptimizerSettings(),
    "sgd+alpha": OptimizerSettings(alpha=0.2),
    "momentum": OptimizerSettings(momentum=0.9),
    "nesterov+alpha": OptimizerSettings(momentum=0.8, nesterov=True, alpha=0.2),
    "adam": OptimizerSettings(name="adam", beta1=0.8, beta2=0.99, epsilon=1e-3),
    "adam+alpha": OptimizerSettings(name="adam", alpha=0.2),
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("chunk_bytes", [numpy_optim.CHUNK_BYTES, 56])
def test_inplace_numpy_optimizer_equals_the_pure_one(config, dtype, chunk_bytes, monkeypatch):
    # 56 bytes: chunks of 7 or 14 entries, so that chunk edges fall inside layers and one
    # straddles the end of the weights (where the L2 penalty stops).
    monkeypatch.setattr(numpy_optim, "CHUNK_BYTES", chunk_bytes)
    settings = CONFIGS[config]
    layout = numpy_optim.FlatLayout(SIZES)
    flat_params, params = layout.empty(np.dtype(dtype))
    for (w, b), (w0, b0) in zip(params, _params(), strict=True):
        w[...], b[...] = w0, b0
    flat_grads, grads = layout.empty(np.dtype(dtype))
    inplace = numpy_optim.build(settings, layout, flat_params, flat_grads)
    assert layout.n_weights % 7 != 0  # the weights end inside a chunk
    if chunk_bytes == 56 and optim.kind(settings) != "sgd":
        assert len(inplace._chunks) > 3

    pure = optim.build(settings, np)
    ref = [(w.astype(dtype), b.astype(dtype)) for w, b in _params()]
    state = pure.init(ref)
    for step in range(STEPS):
        lr, n = _lr(step), 5 + step % 3  # the batch size varies, as with a last, smaller batch
        mean_grads = [(gw.astype(dtype), gb.astype(dtype)) for gw, gb in _grads(ref, step)]
        # What back-propagation of the error scaled by error_scale(lr, n) delivers: the scale
        # times the summed gradient (the mean times n).
        scale = inplace.error_scale(lr, n) * n
        for (gw, gb), (mw, mb) in zip(grads, mean_grads, strict=True):
            gw[...], gb[...] = scale * mw, scale * mb
        inplace.update(lr, n)
        updates, state = pure.update(mean_grads, state, ref, lr, n)
        ref = optim.apply_updates(ref, updates)

    rtol = 1e-12 if dtype == "float64" else 2e-5
    _assert_close(params, ref, rtol)
    assert params[0][0].dtype == np.dtype(dtype)
    ours = inplace.state()
    assert int(ours.step) == int(state.step) == STEPS
    assert set(ours.slots) == set(state.slots) == set(optim.SLOTS[optim.kind(settings)])
    for name in state.slots:
        _assert_close(ours.slots[name], state.slots[name], rtol)


def test_inplace_state_saved_and_loaded_continues_bit_for_bit():
    """A state taken out through the flat form and loaded into a fresh optimizer continues the
    walk exactly: what a checkpoint needs."""
    settings = CONFIGS["adam+alpha"]
    layout = numpy_optim.FlatLayout(SIZES)

    def fresh():
        flat_params, params = layout.empty(np.dtype("float32"))
        for (w, b), (w0, b0) in zip(params, _params(), strict=True):
            w[...], b[...] = w0, b0
        flat_grads, _ = layout.empty(np.dtype("float32"))
        return numpy_optim.build(settings, layout, flat_params, flat_grads)

    def walk(opt, steps):
        for step in steps:
            grads = _grads(layout.views(opt.params), step)
            for (gw, gb), (w, b) in zip(layout.views(opt.grads), grads, strict=True):
                gw[...], gb[...] = w, b
            opt.update(_lr(step), 8)

    original = fresh()
    walk(original, range(10))
    saved = optim.state_arrays(original.state())
    params = original.params.copy()
    walk(original, range(10, 20))

    restored = fresh()
    restored.params[...] = params
    restored.load_state(optim.state_from_arrays(saved))
    walk(restored, range(10, 20))
    assert np.array_equal(restored.params, original.params)
    assert all(np.array_equal(restored.slots[k], original.slots[k]) for k in ("m", "v"))
    assert restored.step == original.step == 20


# --- the state's flat form ----------------------------------------------------------------------

def test_state_flat_form_round_trips_exactly():
    _, state = _run_ours(optim.adam(np), _params(), [0.01] * 3)
    arrays = optim.state_arrays(state)
    assert sorted(arrays) == sorted(["step"] + [f"{s}.{p}{i}" for s in ("m", "v") for p in "Wb"
                                                for i in range(len(SIZES) - 1)])
    assert arrays["step"].dtype == np.int32 and int(arrays["step"]) == 3
    back = optim.state_from_arrays(arrays)
    assert int(back.step) == 3
    for name in ("m", "v"):
        for (w, b), (w0, b0) in zip(back.slots[name], state.slots[name], strict=True):
            assert np.array_equal(w, w0) and np.array_equal(b, b0)
    # Through an npz file, as a checkpoint would hold it: bit for bit.
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as z:
        again = optim.state_arrays(optim.state_from_arrays(dict(z)))
    assert all(np.array_equal(again[k], arrays[k]) and again[k].dtype == arrays[k].dtype
               for k in arrays)
    assert optim.state_arrays(optim.sgd(np).init(_params())) == {"step": np.array(0, np.int32)}


# --- the JAX backends' compiled epoch, and the backends' registry ----------------------------

@pytest.mark.parametrize("backend_name", ["jax", "jax-grad"])
def test_jax_epoch_carries_the_state_donated_and_never_recompiles(backend_name):
    """(params, optimizer state) go through the compiled epoch and are donated to it; annealing
    (a new lr every epoch) and the evolving state never trigger a second compilation."""
    import jax

    from fcnn_cli import backends
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data import datasets
    from fcnn_cli.training import loop

    s = Settings(backend=backend_name, dataset="digits", dataset_path=None, struct=(16,),
                 batch_size=64, max_epochs=3, lr=0.01, annealing=0.5,
                 optimizer=OptimizerSettings(name="adam", alpha=1e-3))
    backend = backends.create(s, datasets.load("digits"))
    compiled, seconds = len(backend._compiled), backend.compile_seconds
    before = jax.tree.leaves((backend.params, backend.opt_state))
    history = loop.run(backend, s)
    assert [r.lr for r in history.records] == [0.01, 0.005, 0.0025]
    assert len(backend._compiled) == compiled and backend.compile_seconds == seconds
    assert all(leaf.is_deleted() for leaf in before)  # donated to the first epoch
    state = backend.get_opt_state()
    assert int(state.step) == 3 * -(-1437 // 64) and state.step.dtype == np.int32
    assert all(w.dtype == np.float32 for pair in state.slots["v"] for w in pair)


def test_settings_read_what_a_backend_supports_from_its_registry_entry(monkeypatch):
    from fcnn_cli.config import backends
    from fcnn_cli.config.validate import from_config
    from fcnn_cli.errors import UsageError

    monkeypatch.setitem(backends.BACKENDS, "numpy", backends.BackendSpec(
        backends.BACKENDS["numpy"].target, optimizers=("sgd",)))
    config = {"backend": {"name": "numpy"}, "dataset": {"name": "digits"}, "lr": 0.1,
              "max_epochs": 1, "batch_size": 8}
    assert from_config({**config, "optimizer": {"name": "sgd", "momentum": 0.9}}).optimizer.momentum == 0.9
    with pytest.raises(UsageError) as error:
        from_config({**config, "optimizer": {"name": "adam"}})
    assert error.value.key == "optimizer" and "sgd" in str(error.value)
    assert from_config({**config, "backend": {"name": "sklearn"},
                        "optimizer": {"name": "adam"}}).optimizer.name == "adam"
    with pytest.raises(UsageError, match="jax or jax-grad"):
        from_config({**config, "device": {"name": "gpu"}})
    with pytest.raises(UsageError, match="numpy, jax, jax-grad, sklearn"):
        from_config({**config, "backend": {"name": "torch"}})
