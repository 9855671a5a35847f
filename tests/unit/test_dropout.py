"""Dropout and max-norm (fcnn_cli.core.regularize): the hand-written backward pass with fixed
masks against finite differences and jax.grad, numpy, jax and jax-grad agreeing in float64 on
the same masks, masks seeded per epoch and used in training only, max-norm's bound after every
update, sklearn and bad values refused in one line, and bitwise resume; each for Bernoulli and
Gaussian dropout (dropout.noise) where the noise matters."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.agreement import assert_weights_agree
from helpers.gradcheck import numerical_derivative
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import model, regularize
from fcnn_cli.core.tasks import Autoencoder, Classify
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import loop


def _settings(backend: str = "numpy", **config):
    return from_config({"backend": {"name": backend}, "dataset": {"name": "digits"},
                        "struct": [16, 8], "batch_size": 32, "seed": 3, "max_epochs": 2,
                        "lr": 0.1, "dtype": "float64", "progress": False,
                        "dropout": {"hidden": 0.3, "input": 0.2}, **config})


def _problem(task, struct, p_input=0.25, p_hidden=0.5, seed=0, n=7, noise="bernoulli"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, task.n_inputs))
    y = rng.integers(0, max(task.n_outputs, 2), size=n)
    sizes = task.sizes()
    params = model.init_params(sizes, seed=seed, dtype="float64")
    params = [(w, rng.normal(scale=0.1, size=b.shape)) for w, b in params]
    rates = regularize.layer_rates(len(sizes) - 1, p_input, p_hidden)
    keeps = regularize.draw_masks(seed, 1, n, sizes, rates, noise)
    dropout = [None if k is None else (k, regularize.scale(p, noise))
               for k, p in zip(keeps, rates, strict=True)]
    return params, x, task.targets(np, x, y), dropout


@pytest.mark.parametrize("noise", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("task", [Classify(5, 3, (6, 4)), Autoencoder(5, 5, (4, 2))],
                         ids=["classify", "autoencoder"])
def test_backward_with_fixed_masks_matches_finite_differences_and_jax_grad(task, activation, noise):
    import jax

    from fcnn_cli.backends.jax_backend import JaxBackend
    from fcnn_cli.backends.jax_grad_backend import JaxGradBackend

    params, x, t, dropout = _problem(task, task.struct, noise=noise)
    assert any(d is not None and not (d[0] == 1).all() for d in dropout)  # something is dropped
    hand = task.gradients(np, params, x, t, activation, dropout)
    loss = lambda: task.mean_loss(np, params, x, t, activation, dropout)  # noqa: E731
    rng = np.random.default_rng(1)
    for (w, b), (dw, db) in zip(params, hand, strict=True):
        for array, grad in ((w, dw), (b, db)):
            for _ in range(6):
                index = tuple(rng.integers(0, s) for s in array.shape)
                assert grad[index] == pytest.approx(numerical_derivative(loss, array, index),
                                                    rel=1e-5, abs=1e-8)
    with jax.enable_x64(True):
        for backend in (JaxBackend, JaxGradBackend):
            grads = backend.gradients(task, params, x, t, activation, dropout)
            for (dw, db), (gw, gb) in zip(hand, grads, strict=True):
                np.testing.assert_allclose(np.asarray(gw), dw, rtol=1e-10, atol=1e-13)
                np.testing.assert_allclose(np.asarray(gb), db, rtol=1e-10, atol=1e-13)


def test_masks_are_seeded_per_epoch_at_the_rate_with_the_exact_scale():
    a = regularize.draw_masks(3, 1, 2000, [100, 50, 10], [0.2, 0.5])
    b = regularize.draw_masks(3, 1, 2000, [100, 50, 10], [0.2, 0.5])
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert not (a[0] == regularize.draw_masks(3, 2, 2000, [100, 50, 10], [0.2, 0.5])[0]).all()
    assert a[0].shape == (2000, 100) and a[1].shape == (2000, 50) and len(a) == 2
    assert abs(1 - a[0].mean() - 0.2) < 0.01 and abs(1 - a[1].mean() - 0.5) < 0.01
    assert regularize.scale(0.5) == 2.0 and regularize.scale(0.25) == 4 / 3
    assert regularize.draw_masks(3, 1, 10, [4, 3, 2], [0.0, 0.5])[0] is None


def test_gaussian_masks_have_bernoullis_mean_and_variance_and_zero_nothing():
    sizes, rates = [100, 50, 10], [0.2, 0.5]
    a = regularize.draw_masks(3, 1, 4000, sizes, rates, "gaussian")
    assert all((x == y).all() for x, y in zip(a, regularize.draw_masks(3, 1, 4000, sizes, rates,
                                                                        "gaussian"), strict=True))
    assert (a[0] == regularize.draw_masks(3, 2, 4000, sizes, rates, "gaussian")[0]).mean() < 1e-3
    assert regularize.scale(0.5, "gaussian") == 1.0 and a[0].dtype == np.float32
    flags = regularize.draw_masks(3, 1, 4000, sizes, rates)
    for p, gauss, keep in zip(rates, a, flags, strict=True):
        bernoulli = keep * regularize.scale(p)  # what Bernoulli dropout multiplies by
        assert abs(gauss.mean() - 1) < 0.01 and abs(bernoulli.mean() - 1) < 0.01
        assert gauss.var() == pytest.approx(p / (1 - p), rel=0.02)
        assert bernoulli.var() == pytest.approx(p / (1 - p), rel=0.02)
        assert (gauss != 0).all()
    # The table a draw is looked up in: exactly the mean and variance, the normal's shape.
    from scipy.stats import norm

    for p in (0.2, 0.5):
        levels, sigma = regularize.gaussian_levels(p).astype(np.float64), np.sqrt(p / (1 - p))
        assert levels.mean() == pytest.approx(1, abs=1e-7)
        assert levels.var() == pytest.approx(p / (1 - p), rel=1e-6)
        for z in (-2.0, -1.0, 0.5, 1.5):
            assert np.mean(levels < 1 + z * sigma) == pytest.approx(norm.cdf(z), abs=2e-4)
    x = np.arange(6.0).reshape(2, 3)
    mask = np.array([[0.5, 1.0, 2.0], [-1.0, 0.0, 1.5]], np.float32)
    np.testing.assert_array_equal(regularize.dropout(np, x, mask, 1.0), x * mask)


@pytest.fixture(scope="module", params=[("sgd", "bernoulli"), ("adam", "bernoulli"),
                                        ("sgd", "gaussian")], ids=lambda p: "-".join(p))
def numpy_run(request):
    name, noise = request.param
    config = {"optimizer": {"name": name}, "lr": 0.1 if name == "sgd" else 0.01, "max_norm": 1.0,
              "activation": "tanh", "dropout": {"hidden": 0.3, "input": 0.2, "noise": noise}}
    s = _settings(**config)
    backend = backends.create(s, datasets.load("digits", dtype="float64"))
    history = loop.run(backend, s)
    return config, backend, history


@pytest.mark.parametrize("name", ["jax", "jax-grad"])
def test_numpy_jax_and_jax_grad_agree_in_float64(name, numpy_run):
    config, numpy_backend, numpy_history = numpy_run
    s = _settings(name, **config)
    backend = backends.create(s, datasets.load("digits", dtype="float64"))
    history = loop.run(backend, s)
    assert_weights_agree(backend.get_params(), numpy_backend.get_params())
    moved = max(np.abs(w0 - wi).max() for (w0, _), (wi, _) in
                zip(numpy_backend.get_params(), backend.initial_params(), strict=True))
    assert moved > 1e-3
    assert [r.train_acc for r in history.records] == [r.train_acc for r in numpy_history.records]


def test_dropout_changes_training_but_not_scoring(numpy_run):
    config, backend, history = numpy_run
    x, y = backend.data.split("train")
    logits = model.logits(np, backend.get_params(), x, "tanh")  # no masks
    assert history.last.train_acc == np.mean(np.argmax(logits, axis=1) == y)
    assert backend.evaluate("test") == backend.evaluate("test")  # deterministic
    plain = _settings(**{**config, "dropout": {"hidden": 0.0, "input": 0.0}})
    assert backend.dropout_masks is not None  # the last epoch's, of the noise asked for
    assert backend.dropout_masks[0].dtype == regularize.mask_dtype(config["dropout"]["noise"])
    other = backends.create(plain, backend.data)
    loop.run(other, plain)
    assert not np.allclose(other.get_params()[0][0], backend.get_params()[0][0])


def test_max_norm_bounds_every_hidden_units_incoming_weights(numpy_run):
    _, backend, _ = numpy_run
    *hidden, (w_out, _) = backend.get_params()
    for w, _ in hidden:
        assert np.linalg.norm(w, axis=0).max() <= 1.0 * (1 + 1e-12)
    # The bound was reached, so it did something; the output layer is free.
    assert np.linalg.norm(hidden[0][0], axis=0).max() > 1 - 1e-9
    assert np.linalg.norm(w_out, axis=0).max() > 1.0
    w = np.array([[3.0, 0.1], [4.0, 0.2]])
    regularize.max_norm_inplace([(w, None), (np.ones((2, 2)), None)], 1.0)
    assert np.allclose(w[:, 0], [0.6, 0.8]) and (w[:, 1] == [0.1, 0.2]).all()  # within: as is


@pytest.mark.parametrize(("config", "key"), [
    ({"dropout": {"hidden": 0.5}}, "dropout.hidden"), ({"dropout": {"input": 0.2}}, "dropout.input"),
    ({"max_norm": 3.0}, "max_norm")])
def test_sklearn_refuses_in_one_line(config, key):
    with pytest.raises(UsageError) as err:
        from_config({"backend": {"name": "sklearn"}, "dataset": {"name": "digits"}, **config})
    assert key in str(err.value) and "sklearn" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("config", "key"), [
    ({"dropout": {"hidden": 0.5}}, "dropout.hidden"), ({"max_norm": 3.0}, "max_norm")])
def test_without_hidden_layers_they_are_refused_not_ignored(config, key):
    # struct=[] has no hidden unit to drop or bound: they would silently do nothing
    with pytest.raises(UsageError) as err:
        _settings(struct=[], **{"dropout": {"input": 0.0}, **config})
    assert str(err.value).startswith(f"{key}: ") and "struct=[] has no hidden layer" in str(err.value)
    assert _settings(struct=[], dropout={"input": 0.2}).dropout_input == 0.2  # the input's is kept


@pytest.mark.parametrize(("config", "key"), [
    ({"dropout": {"hidden": 1.0}}, "dropout.hidden"), ({"dropout": {"hidden": -0.1}}, "dropout.hidden"),
    ({"dropout": {"input": 1}}, "dropout.input"), ({"dropout": {"input": "half"}}, "dropout.input"),
    ({"max_norm": 0}, "max_norm"), ({"max_norm": -2.0}, "max_norm"), ({"max_norm": "inf"}, "max_norm"),
    ({"dropout": {"hidden": 0.5, "noise": "gausian"}}, "dropout.noise")])
def test_bad_values_are_one_line(config, key):
    with pytest.raises(UsageError) as err:
        _settings(**config)
    assert key in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("noise", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("backend", ["numpy", "jax", "jax-grad"])
def test_resume_is_bitwise(tmp_path, backend, noise):
    s = _settings(backend, dtype="float32", max_epochs=4, max_norm=2.0,
                  optimizer={"name": "sgd", "momentum": 0.9},
                  dropout={"hidden": 0.3, "input": 0.2, "noise": noise})
    resume_every_epoch(tmp_path, s, datasets.load("digits"))
