"""What a run returns to a sweeper, and what metrics.json says it was measured on."""

from __future__ import annotations

import math

import pytest

from fcnn_cli.training.objective import objective, objective_metric


@pytest.mark.parametrize("metrics, metric, value, sweeper", [
    ({"objective": "val_acc", "status": "completed", "val_acc": 0.9, "train_acc": 0.95},
     "val_acc", 0.9, 0.9),
    # no validation set: the training set's accuracy, and metrics.json says so
    ({"objective": "val_acc", "status": "completed", "val_acc": None, "train_acc": 0.95},
     "train_acc", 0.95, 0.95),
    ({"objective": "val_loss", "status": "completed", "val_loss": 0.2, "train_loss": 0.1},
     "val_loss", -0.2, -0.2),
    ({"objective": "val_loss", "status": "completed", "val_loss": None, "train_loss": 0.1},
     "train_loss", -0.1, -0.1),
    # a run that did not complete: null in metrics.json, the worst to a sweeper
    ({"objective": "val_acc", "status": "interrupted", "val_acc": 0.9}, "val_acc", None, 0.0),
    ({"objective": "val_loss", "status": "diverged", "val_loss": math.nan}, "val_loss", None,
     -math.inf),
    ({"objective": "probe_val_acc", "status": "completed", "probe_val_acc": 0.97,
      "probe_train_acc": 0.99}, "probe_val_acc", 0.97, 0.97),
])
def test_objective_metric_and_value(metrics, metric, value, sweeper):
    assert objective_metric(metrics) == (metric, value)
    assert objective(metrics) == sweeper
