"""backend=sklearn (lab Example 5.1) through the real CLI: `fcnn train backend=sklearn` with SGD
and Nesterov momentum ends on MLPClassifier.fit's weights (one batch an epoch) or within a point
of its accuracy (mini-batches), in the shared model.npz format. In process, through the shared
loop: tests/unit/test_sklearn_backend.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import read_metrics, train_here
from helpers.sklearn_oracle import assert_same_weights as _assert_same_weights
from helpers.sklearn_oracle import fit_reference as _fit_reference

from fcnn_cli.core import model
from fcnn_cli.runs.model_file import load_model

N_TRAIN = 1437  # digits' fixed 80% training split
SGD_NESTEROV = ("optimizer.momentum=0.9", "optimizer.nesterov=true", "optimizer.alpha=1e-4")


def _train(tmp_path, *overrides: str) -> tuple[dict, list]:
    run_dir = tmp_path / "run"
    proc = train_here("backend=sklearn", "dataset=digits", "progress=false", "seed=1",
                    *overrides, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    params, _ = load_model(run_dir / "model.npz")
    return read_metrics(run_dir), params




def test_full_batch_sgd_nesterov_equals_mlpclassifier_fit(tmp_path):
    # With one batch per epoch the sample order cannot matter, so partial_fit driven by the loop
    # must reproduce fit's weights: this pins struct, activation, lr, momentum, nesterov, alpha,
    # batch size and seed to the right MLPClassifier parameters.
    metrics, params = _train(tmp_path, "struct=[32,16]", "activation=tanh", "lr=0.2",
                             "annealing=1.0", "max_epochs=12", f"batch_size={N_TRAIN}",
                             *SGD_NESTEROV)
    clf, data = _fit_reference(
        hidden_layer_sizes=(32, 16), activation="tanh", solver="sgd", learning_rate_init=0.2,
        momentum=0.9, nesterovs_momentum=True, alpha=1e-4, batch_size=N_TRAIN, max_iter=12,
    )
    _assert_same_weights(params, clf)
    assert metrics["test_acc"] == pytest.approx(clf.score(data.x_test, data.y_test))
    assert metrics["epochs_completed"] == 12


def test_minibatch_accuracy_within_one_point_of_fit(tmp_path):
    # Mini-batches: the loop's sample order differs from fit's own shuffling, so only the
    # outcome can agree, not the weights.
    metrics, params = _train(tmp_path, "struct=[64]", "lr=0.1", "annealing=1.0",
                             "max_epochs=20", "batch_size=32", *SGD_NESTEROV)
    clf, data = _fit_reference(
        hidden_layer_sizes=(64,), activation="relu", solver="sgd", learning_rate_init=0.1,
        momentum=0.9, nesterovs_momentum=True, alpha=1e-4, batch_size=32, max_iter=20,
    )
    reference = clf.score(data.x_test, data.y_test)
    assert reference > 0.95
    assert abs(metrics["test_acc"] - reference) <= 0.01, (metrics["test_acc"], reference)
    # model.npz holds the same network in the shared format: re-scoring it gives the metric.
    _, activation = load_model(tmp_path / "run" / "model.npz")
    predicted = model.logits(np, params, data.x_test, activation).argmax(axis=1)
    assert np.mean(predicted == data.y_test) == pytest.approx(metrics["test_acc"])
    assert metrics["backend"] == "sklearn"
    assert metrics["struct"] == [64]
