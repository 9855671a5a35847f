"""Adversarial training (adversarial.*; fcnn_cli.core.adversarial): the inputs' error of the
hand-written backward pass against finite differences and jax.grad, the objective's gradient
against jax.grad of the objective written out, the perturbation's size and effect, numpy, jax
and jax-grad agreeing in float64, bitwise resume, robustness gained on the digits, eps 0 the
same run as none, and bad values or sklearn refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.agreement import assert_weights_agree
from helpers.gradcheck import numerical_derivative
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import adversarial, model, regularize
from fcnn_cli.core.tasks import Autoencoder, Classify
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import loop


def _settings(backend: str = "numpy", **config):
    base = {"backend": {"name": backend}, "dataset": {"name": "digits"}, "struct": [16, 8],
            "batch_size": 32, "seed": 3, "max_epochs": 2, "lr": 0.1, "dtype": "float64",
            "progress": False, "adversarial": {"eps": 0.1}}
    return from_config({**base, **config})


def _problem(task, seed=0, n=7, noise="bernoulli"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, task.n_inputs))
    y = rng.integers(0, max(task.n_outputs, 2), size=n)
    sizes = task.sizes()
    params = [(w, rng.normal(scale=0.1, size=b.shape))
              for w, b in model.init_params(sizes, seed=seed, dtype="float64")]
    rates = regularize.layer_rates(len(sizes) - 1, 0.25, 0.5)
    keeps = regularize.draw_masks(seed, 1, n, sizes, rates, noise)
    dropout = [None if k is None else (k, regularize.scale(p, noise))
               for k, p in zip(keeps, rates, strict=True)]
    return params, x, np.array(task.targets(np, x, y)), dropout  # a copy: x is nudged


TASKS = [Classify(5, 3, (6, 4)), Autoencoder(5, 5, (4, 2))]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("with_dropout", [False, True])
@pytest.mark.parametrize("task", TASKS, ids=["classify", "autoencoder"])
def test_the_inputs_error_matches_finite_differences_and_jax_grad(task, with_dropout, activation):
    import jax

    from fcnn_cli.backends.jax_backend import JaxBackend
    from fcnn_cli.backends.jax_grad_backend import JaxGradBackend

    params, x, t, dropout = _problem(task)
    dropout = dropout if with_dropout else None
    grads, dx = task.gradients(np, params, x, t, activation, dropout, input_error=True)
    # the parameters' gradients are those of the pass without the inputs' error
    for (dw, db), (ew, eb) in zip(grads, task.gradients(np, params, x, t, activation, dropout),
                                  strict=True):
        np.testing.assert_array_equal(dw, ew)
        np.testing.assert_array_equal(db, eb)
    assert dx.shape == x.shape and np.abs(dx).max() > 0
    if with_dropout:  # a dropped pixel does not move the loss
        assert (dx[dropout[0][0] == 0] == 0).all()
    loss = lambda: task.mean_loss(np, params, x, t, activation, dropout)  # noqa: E731
    for index in np.ndindex(x.shape):
        assert dx[index] == pytest.approx(numerical_derivative(loss, x, index), rel=1e-5,
                                          abs=1e-9)
    with jax.enable_x64(True):
        for backend in (JaxBackend, JaxGradBackend):
            got = backend.gradients(task, params, x, t, activation, dropout, input_error=True)
            np.testing.assert_allclose(np.asarray(got[1]), dx, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("norm", adversarial.NORMS)
@pytest.mark.parametrize("task", TASKS, ids=["classify", "autoencoder"])
def test_the_objectives_gradient_matches_jax_grad_of_the_objective_written_out(task, norm):
    import jax
    import jax.numpy as jnp

    from fcnn_cli.backends.jax_backend import JaxBackend

    params, x, t, dropout = _problem(task, seed=2)
    eps, weight = 0.3, 0.4
    hand = adversarial.training_gradients(
        lambda *a, **k: task.gradients(np, *a, **k), np, eps, norm, weight)(
        params, x, t, "relu", dropout)
    with jax.enable_x64(True):
        def loss(p, inputs):
            return task.mean_loss(jnp, p, inputs, t, "relu", dropout)

        def objective(p):
            # r by jax itself, held constant (Goodfellow et al.; Miyato et al.)
            g = jax.grad(loss, argnums=1)(jax.lax.stop_gradient(p), x)
            if norm == "linf":
                r = eps * jnp.sign(g)
            else:
                # a row whose loss is flat (every unit it reaches dead) is not moved
                r = eps * g / jnp.maximum(jnp.linalg.norm(g, axis=1, keepdims=True), 1e-300)
            return (1 - weight) * loss(p, x) + weight * loss(p, jax.lax.stop_gradient(x + r))

        oracle = jax.grad(objective)(params)
        jax_backend = adversarial.training_gradients(
            lambda *a, **k: JaxBackend.gradients(task, *a, **k), jnp, eps, norm, weight)(
            params, x, t, "relu", dropout)
    for (dw, db), (ow, ob), (jw, jb) in zip(hand, oracle, jax_backend, strict=True):
        np.testing.assert_allclose(dw, np.asarray(ow), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, np.asarray(ob), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(np.asarray(jw), dw, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(np.asarray(jb), db, rtol=1e-10, atol=1e-14)
    # and it differs from the clean loss's gradient: the moved inputs count
    clean = task.gradients(np, params, x, t, "relu", dropout)
    assert not np.allclose(hand[0][0], clean[0][0])


def test_the_perturbation_has_size_eps_in_its_norm_and_raises_the_loss():
    task = Classify(5, 3, (6, 4))
    params, x, t, _ = _problem(task, seed=4, n=40)
    _, g = task.gradients(np, params, x, t, "tanh", None, input_error=True)
    g[0] = 0.0  # a sample whose loss is flat is not moved
    base = task.mean_loss(np, params, x[1:], t[1:], "tanh")
    for norm, size in (("linf", lambda r: np.abs(r).max(axis=1)),
                       ("l2", lambda r: np.linalg.norm(r, axis=1))):
        r = adversarial.perturbation(np, g, 0.05, norm)
        assert (r[0] == 0).all()
        np.testing.assert_allclose(size(r[1:]), 0.05, rtol=1e-12)
        moved = task.mean_loss(np, params, x[1:] + r[1:], t[1:], "tanh")
        random = task.mean_loss(np, params, x[1:] + r[1:][::-1], t[1:], "tanh")
        assert moved > base and moved > random  # uphill, more than a step of the same size
    np.testing.assert_array_equal(
        adversarial.combine(np, [(np.ones(2), np.ones(1))], [(np.zeros(2), 3 * np.ones(1))],
                            0.25)[0][1], [1.5])


@pytest.fixture(scope="module", params=[("sgd", 0.9, "linf"), ("sgd", 0.0, "l2"),
                                        ("adam", 0.0, "linf")], ids=lambda p: f"{p[0]}-{p[1]}-{p[2]}")
def numpy_run(request):
    name, momentum, norm = request.param
    config = {"optimizer": {"name": name, **({"momentum": momentum} if name == "sgd" else {})},
              "lr": 0.1 if name == "sgd" else 0.01, "max_norm": 2.0, "activation": "tanh",
              "dropout": {"hidden": 0.3, "input": 0.2},
              "adversarial": {"eps": 0.1 if norm == "linf" else 1.0, "norm": norm,
                              "weight": 0.5}}
    s = _settings(**config)
    backend = backends.create(s, datasets.load("digits", dtype="float64"))
    return config, backend, loop.run(backend, s)


@pytest.mark.parametrize("name", ["jax", "jax-grad"])
def test_numpy_jax_and_jax_grad_agree_in_float64(name, numpy_run):
    config, numpy_backend, numpy_history = numpy_run
    s = _settings(name, **config)
    backend = backends.create(s, datasets.load("digits", dtype="float64"))
    history = loop.run(backend, s)
    assert_weights_agree(backend.get_params(), numpy_backend.get_params())
    assert [r.train_acc for r in history.records] == [r.train_acc for r in numpy_history.records]
    # and the moved inputs changed the training
    plain = _settings(**{**config, "adversarial": {"eps": 0.0}})
    other = backends.create(plain, numpy_backend.data)
    loop.run(other, plain)
    assert not np.allclose(other.get_params()[0][0], numpy_backend.get_params()[0][0])


def test_eps_zero_is_the_same_run_as_none():
    data = datasets.load("digits", dtype="float64")
    runs = []
    for config in ({}, {"adversarial": {"eps": 0.0, "norm": "l2", "weight": 0.9}}):
        s = from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"},
                         "struct": [16], "max_epochs": 2, "dtype": "float64", **config})
        backend = backends.create(s, data)
        loop.run(backend, s)
        runs.append(backend.get_params())
    for (w, b), (w0, b0) in zip(*runs, strict=True):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)


def _fgsm_accuracy(backend, x, y, eps):
    """Accuracy on the test images moved by eps sign(dLoss/dx) against the trained net."""
    task, params = backend.task, backend.get_params()
    _, g = task.gradients(np, params, x, task.targets(np, x, y), "relu", None, input_error=True)
    return float(np.mean(backend.predict(x + adversarial.perturbation(np, g, eps, "linf")) == y))


def test_adversarial_training_makes_the_digits_net_robust_to_the_attack():
    data = datasets.load("digits", dtype="float64", val_fraction=0.0)
    x, y = data.split("test")
    scores = {}
    for eps in (0.0, 0.1):
        s = from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"},
                         "struct": [64], "max_epochs": 30, "lr": 0.1, "batch_size": 32,
                         "dtype": "float64", "optimizer": {"momentum": 0.9}, "progress": False,
                         "adversarial": {"eps": eps}})
        backend = backends.create(s, data)
        loop.run(backend, s)
        scores[eps] = (backend.evaluate("test")[1], _fgsm_accuracy(backend, x, y, 0.1))
    (clean_plain, attacked_plain), (clean_adv, attacked_adv) = scores[0.0], scores[0.1]
    assert attacked_adv > attacked_plain + 0.15, scores  # robust where the plain net is not
    assert clean_adv > 0.9 and clean_plain > 0.9, scores  # and still a classifier


@pytest.mark.parametrize("norm", adversarial.NORMS)
@pytest.mark.parametrize("backend", ["numpy", "jax", "jax-grad"])
def test_resume_is_bitwise(tmp_path, backend, norm):
    s = _settings(backend, dtype="float32", max_epochs=4, max_norm=2.0,
                  optimizer={"name": "sgd", "momentum": 0.9},
                  dropout={"hidden": 0.3, "input": 0.2},
                  adversarial={"eps": 0.1, "norm": norm})
    resume_every_epoch(tmp_path, s, datasets.load("digits"))


@pytest.mark.parametrize(("config", "key"), [
    ({"adversarial": {"eps": -0.1}}, "adversarial.eps"),
    ({"adversarial": {"eps": "big"}}, "adversarial.eps"),
    ({"adversarial": {"eps": 0.1, "norm": "l1"}}, "adversarial.norm"),
    ({"adversarial": {"eps": 0.1, "weight": 0}}, "adversarial.weight"),
    ({"adversarial": {"eps": 0.1, "weight": 1.0}}, "adversarial.weight")])
def test_bad_values_are_one_line(config, key):
    with pytest.raises(UsageError) as err:
        _settings(**config)
    assert str(err.value).startswith(f"{key}: ") and "\n" not in str(err.value)


def test_sklearn_refuses_in_one_line():
    with pytest.raises(UsageError) as err:
        _settings("sklearn", struct=[16], dropout={"hidden": 0.0})
    message = str(err.value)
    assert message.startswith("adversarial.eps: ") and "sklearn" in message and "\n" not in message
    assert _settings("sklearn", adversarial={"eps": 0.0}).adversarial_eps == 0.0
