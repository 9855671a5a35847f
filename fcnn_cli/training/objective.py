"""What a run returns to a sweeper: its `objective` on the validation set when there is one,
else on the training set, never on the test set."""

from __future__ import annotations

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


def objective(metrics: dict[str, Any]) -> float:
    """What a sweeper maximises: the run's `objective` on the validation set if there is one,
    else on the training set; never on the test set, which must stay unseen by model selection.
    A loss counts negated; a run that did not complete counts as the worst."""
    key, fallback, sign = OBJECTIVES[metrics.get("objective", "val_acc")]
    value = metrics.get(key)
    if value is None:
        value = metrics.get(fallback)
    if metrics["status"] != "completed" or value is None:
        return 0.0 if sign > 0 else float("-inf")
    return sign * float(value)
