"""label_smoothing: a classifier trained on the targets (1-e) one-hot + e/K. The targets and the
gradient against optax (smooth_labels, softmax_cross_entropy under jax.grad), every backend that
builds its own targets walking the same weights, scores still on the plain labels, and the
one-line refusals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fcnn_cli import backends
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import model
from fcnn_cli.core.tasks import Classify
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.estimator import FCNNClassifier
from fcnn_cli.training import loop


def _config(backend: str = "numpy", **config) -> dict:
    return {"backend": {"name": backend}, "dataset": {"name": "digits"}, "struct": [16],
            "batch_size": 64, "max_epochs": 3, "lr": 0.1, "seed": 5, "dtype": "float64",
            "label_smoothing": 0.2, "optimizer": {"name": "sgd", "momentum": 0.9}, **config}


def test_the_targets_are_optax_smooth_labels():
    import optax

    task = Classify(4, 5, (3,), label_smoothing=0.1)
    y = np.array([0, 4, 2, 2])
    x = np.zeros((4, 4))
    expected = optax.smooth_labels(np.eye(5)[y], 0.1)
    np.testing.assert_allclose(task.train_targets(np, x, y), expected, rtol=0, atol=1e-15)
    # scoring keeps the one-hot
    np.testing.assert_array_equal(task.targets(np, x, y), np.eye(5)[y])
    np.testing.assert_array_equal(Classify(4, 5, (3,)).train_targets(np, x, y), np.eye(5)[y])


def test_the_hand_written_gradient_is_optax_smoothed_cross_entropy_under_jax_grad():
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(2)
    task = Classify(6, 4, (5,), label_smoothing=0.15)
    params = [(rng.normal(size=(6, 5)), rng.normal(size=5)), (rng.normal(size=(5, 4)), rng.normal(size=4))]
    x, y = rng.normal(size=(7, 6)), rng.integers(0, 4, size=7)
    with jax.enable_x64(True):
        ours = task.gradients(np, params, x, task.train_targets(np, x, y), "relu")

        def loss(p):
            logits = model.logits(jnp, p, x, "relu")
            return optax.softmax_cross_entropy(logits, optax.smooth_labels(jax.nn.one_hot(y, 4), 0.15)).mean()

        theirs = jax.grad(loss)(params)
    for (gw, gb), (rw, rb) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-12)


def test_the_numpy_output_error_is_softmax_minus_the_smoothed_targets():
    rng = np.random.default_rng(3)
    task = Classify(6, 5, (4,), label_smoothing=0.3)
    a, y = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    out = np.empty_like(a)
    task.numpy_output_error(a, np.zeros((8, 6)), y, out=out)
    np.testing.assert_allclose(out, model.softmax(np, a) - task.train_targets(np, a, y), atol=1e-15)


@pytest.fixture(scope="module")
def digits64():
    return datasets.load("digits", dtype="float64")


def _train(backend: str, data, **config):
    s = from_config(_config(backend, **config))
    b = backends.create(s, data)
    history = loop.run(b, s)
    return b, history


def test_every_backend_that_builds_its_targets_walks_the_same_weights(digits64):
    numpy, _ = _train("numpy", digits64)
    for name in ("jax", "jax-grad"):
        other, _ = _train(name, digits64)
        for (w, b), (w_ref, b_ref) in zip(other.get_params(), numpy.get_params(), strict=True):
            np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-9 * np.abs(w_ref).max(), err_msg=name)
            np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-9 * np.abs(b_ref).max(), err_msg=name)
    plain, _ = _train("numpy", digits64, label_smoothing=0.0)
    assert np.abs(plain.get_params()[0][0] - numpy.get_params()[0][0]).max() > 1e-3


def test_losses_are_still_scored_on_the_plain_labels(digits64):
    b, history = _train("jax", digits64)
    logits = model.logits(np, b.get_params(), digits64.x_test, "relu")
    plain = -np.mean(model.log_softmax(np, logits)[np.arange(len(digits64.y_test)), digits64.y_test])
    assert history.records[-1].test_loss == pytest.approx(plain, rel=1e-9)


def test_the_estimator_takes_it():
    data = datasets.load("digits", dtype="float64")
    kw = dict(backend="numpy", struct=[16], max_epochs=3, lr=0.1, momentum=0.9, seed=5,
              dtype="float64", batch_size=64)
    smoothed = FCNNClassifier(label_smoothing=0.2, **kw).fit(data.x_train, data.y_train)
    plain = FCNNClassifier(**kw).fit(data.x_train, data.y_train)
    assert np.abs(smoothed.coefs_[0] - plain.coefs_[0]).max() > 1e-3
    with pytest.raises(ValueError, match="label_smoothing"):
        FCNNClassifier(label_smoothing=1.0, **kw).fit(data.x_train, data.y_train)


@pytest.mark.parametrize(("config", "words"), [
    ({"label_smoothing": 1.0}, "must be"),
    ({"label_smoothing": -0.1}, "must be"),
    ({"task": {"name": "autoencoder"}}, "task=autoencoder"),
    ({"backend": "sklearn"}, "backend=sklearn"),
])
def test_out_of_range_or_without_one_hot_targets_is_refused(config, words):
    with pytest.raises(UsageError) as err:
        from_config(_config(**config))  # _config's first argument is the backend's name
    assert err.value.key == "label_smoothing" and words in err.value.message


def test_the_cli_refuses_it_with_logistic_regression_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fcnn_cli", "train", "task=logreg",
                          "dataset=digits", "dataset.classes=[3,8]", "label_smoothing=0.1",
                          f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "fcnn: error: label_smoothing: smooths a classifier's one-hot targets: task=logreg has "
        "none (label_smoothing=0)"]
    assert not (tmp_path / "run").exists()
