"""backend=sklearn (lab Example 5.1) in process: the config mapping onto MLPClassifier, checked
against MLPClassifier.fit written out by hand, through the shared loop. Through the real CLI and
the shared model.npz format: tests/cli/test_sklearn_train.py."""

from __future__ import annotations

import warnings

import numpy as np
from helpers.sklearn_oracle import assert_same_weights as _assert_same_weights
from helpers.sklearn_oracle import fit_reference as _fit_reference

from fcnn_cli.core import model
from fcnn_cli.data import datasets

N_TRAIN = 1437  # digits' fixed 80% training split
SGD_NESTEROV = ("optimizer.momentum=0.9", "optimizer.nesterov=true", "optimizer.alpha=1e-4")


def _train_in_process(**config):
    """The backend through the shared loop without a subprocess: (history, backend)."""
    from fcnn_cli import backends
    from fcnn_cli.config.validate import from_config
    from fcnn_cli.training import loop

    settings = from_config({"backend": {"name": "sklearn"}, "dataset": {"name": "digits"},
                            "seed": 1, "progress": False, **config})
    backend = backends.create(settings, datasets.load("digits"))
    return loop.run(backend, settings), backend




def test_full_batch_adam_equals_mlpclassifier_fit():
    _, backend = _train_in_process(
        optimizer={"name": "adam", "beta1": 0.8, "alpha": 1e-3}, struct=[24],
        activation="sigmoid", lr=0.01, annealing=1.0, max_epochs=8, batch_size=N_TRAIN)
    clf, _ = _fit_reference(
        hidden_layer_sizes=(24,), activation="logistic", solver="adam", learning_rate_init=0.01,
        beta_1=0.8, beta_2=0.999, epsilon=1e-8, alpha=1e-3, batch_size=N_TRAIN, max_iter=8,
    )
    _assert_same_weights(backend.get_params(), clf)


def test_annealing_sets_the_learning_rate_every_epoch():
    # Reference: plain full-batch SGD one fit() per epoch, the rate set by hand before each.
    from sklearn.neural_network import MLPClassifier

    history, backend = _train_in_process(struct=[16], lr=0.5, annealing=0.5, max_epochs=5,
                                         batch_size=N_TRAIN)
    data = datasets.load("digits")
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, alpha=0.0,
                        batch_size=N_TRAIN, max_iter=1, warm_start=True, random_state=1)
    lr = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):
            clf.set_params(learning_rate_init=lr)
            clf.fit(data.x_train, data.y_train)
            lr *= 0.5
    _assert_same_weights(backend.get_params(), clf)
    assert [r.lr for r in history.records] == [0.5, 0.25, 0.125, 0.0625, 0.03125]


def test_divergence_is_reported_not_raised():
    # MLPClassifier raises on non-finite weights; the backend turns that into a diverged run.
    history, backend = _train_in_process(struct=[16], lr=1e30, max_epochs=4, batch_size=16)
    assert history.status == "diverged"
    assert len(history.records) == 1
    assert not np.isfinite(history.last.train_loss)
    backend.predict(backend.data.x_test)  # train() still predicts and saves a diverged model


def test_two_classes_are_saved_in_softmax_form():
    # MLPClassifier keeps one logistic output for two classes; model.npz always has softmax
    # outputs, one per class, and must predict exactly what MLPClassifier predicts.
    from fcnn_cli import backends
    from fcnn_cli.config.validate import from_config
    from fcnn_cli.training import loop

    data = datasets.load("digits")
    keep_train, keep_test = data.y_train < 2, data.y_test < 2
    data.x_train, data.y_train = data.x_train[keep_train], data.y_train[keep_train]
    data.x_test, data.y_test = data.x_test[keep_test], data.y_test[keep_test]
    data.n_classes = 2
    settings = from_config({
        "backend": {"name": "sklearn"}, "dataset": {"name": "digits"}, "struct": [8],
        "lr": 0.05, "max_epochs": 2, "batch_size": 16, "progress": False,
    })
    backend = backends.create(settings, data)
    history = loop.run(backend, settings)
    params = backend.get_params()
    assert params[-1][0].shape == (8, 2) and params[-1][1].shape == (2,)
    predicted = model.logits(np, params, data.x_test).argmax(axis=1)
    np.testing.assert_array_equal(predicted, backend.predict(data.x_test))
    proba = model.softmax(np, model.logits(np, params, data.x_test))
    np.testing.assert_allclose(proba, backend.estimator.mlp.predict_proba(data.x_test), atol=1e-5)
    assert history.last.test_acc > 0.9
