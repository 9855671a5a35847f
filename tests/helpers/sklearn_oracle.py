"""scikit-learn's own MLPClassifier.fit, the oracle of the sklearn backend's tests (in process,
tests/unit/test_sklearn_backend.py, and through the CLI, tests/cli/test_sklearn_train.py)."""

from __future__ import annotations

import warnings

import numpy as np

from fcnn_cli.data import datasets


def fit_reference(**kwargs):
    """MLPClassifier.fit as the lab calls it, with our mapping written out by hand."""
    from sklearn.neural_network import MLPClassifier

    data = datasets.load("digits")
    clf = MLPClassifier(random_state=1, tol=0.0, n_iter_no_change=1000, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        clf.fit(data.x_train, data.y_train)
    return clf, data


def assert_same_weights(params, clf, atol=1e-5):
    assert len(params) == len(clf.coefs_)
    for (w, b), cw, cb in zip(params, clf.coefs_, clf.intercepts_, strict=True):
        np.testing.assert_allclose(w, cw, atol=atol)
        np.testing.assert_allclose(b, cb, atol=atol)
