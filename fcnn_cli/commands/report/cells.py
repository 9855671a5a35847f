"""The text of one cell of `fcnn report`'s tables (the terminal's and report.md's)."""

from __future__ import annotations

from fcnn_cli.commands.report.collect import ACCURACIES, Run
from fcnn_cli.commands.report.groups import std_key


def cell(run: Run, key: str) -> str:
    """The text of one table cell."""
    value = run.row.get(key)
    if key == "epochs":
        total = run.row.get("max_epochs")
        done = "-" if value is None else str(value)
        return done if total is None else f"{done}/{total}"
    if value is None:
        return "-"
    if key in ACCURACIES:
        std = run.row.get(std_key(key))  # a --group-by row: mean ± standard deviation
        return f"{100 * value:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")
    if key in ("fit_seconds", "s_per_epoch"):
        return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 10 else f"{value:.1f}"
    # Any other fraction (lr, annealing, the loss, a setting such as dropout.hidden), compactly:
    # 4 significant digits tell an Optuna trial's 0.1434 from 0.1731.
    if isinstance(value, float):
        return f"{value:.4g}"
    if key == "run" and run.best:
        return f"{value} *"
    return str(value)
