"""What a run returns to a sweeper: its `objective` on the validation set when there is one,
else on the training set, never on the test set."""

from __future__ import annotations

import math
from typing import Any

from fcnn_cli.config.schema import OBJECTIVES


def resolve_objective(name: str, task: Any) -> str:
    """The `objective` setting for this task: auto is val_acc, or val_loss without accuracy."""
    from fcnn_cli.errors import UsageError

    if name == "auto":
        return "val_acc" if task.metric == "acc" else "val_loss"
    if name == "val_acc" and task.metric != "acc":
        raise UsageError("objective", f"task={task.name} has no accuracy: use val_loss, or "
                                      "probe_val_acc with a probe")
    return name


def objective_metric(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The metric the run's `objective` is measured on, and its value as a sweeper sees it: on
    the validation set if there is one, else on the training set (the metric named says which);
    never on the test set, which must stay unseen by model selection. A loss counts negated.
    The value is None for a run that did not complete."""
    key, fallback, sign = OBJECTIVES[metrics.get("objective", "val_acc")]
    name = key if metrics.get(key) is not None else fallback
    value = metrics.get(name)
    if metrics["status"] != "completed" or value is None or not math.isfinite(value):
        return name, None
    return name, sign * float(value)


def objective(metrics: dict[str, Any]) -> float:
    """What a sweeper maximises (objective_metric's value); a run that did not complete counts
    as the worst."""
    _, value = objective_metric(metrics)
    if value is None:
        sign = OBJECTIVES[metrics.get("objective", "val_acc")][2]
        return 0.0 if sign > 0 else float("-inf")
    return value
