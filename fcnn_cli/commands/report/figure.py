"""report.png: the runs' curves overlaid (curve C, A and B), the best few named in the legend."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.commands.report.collect import Run

# report.png names every run in its legend up to MAX_LEGEND runs; beyond that it draws and
# names the best LEGEND_BEST by final test accuracy, and folds the others into one shaded band.
MAX_LEGEND = 10


LEGEND_BEST = 5


def _curve_rows(run: Run) -> list[dict[str, float]]:
    """The epochs of a run's curves.csv that have curve C (and B, for a task with accuracy);
    [] when unreadable."""
    from fcnn_cli.runs.curves import read_curves

    if not run.curves_file.is_file():
        return []
    try:
        rows = read_curves(run.curves_file)
    except (OSError, ValueError, KeyError):
        return []
    return [r for r in rows if "epoch" in r and "train_loss" in r]


def _final_score(rows: list[dict[str, float]]) -> float:
    """What ranks runs for the legend: final test accuracy, or minus the final loss for a task
    without accuracy (an autoencoder)."""
    last = rows[-1]
    value = last["test_acc"] if "test_acc" in last else -last.get("test_loss", last["train_loss"])
    return value if math.isfinite(value) else -math.inf


def _band(curves: list[list[dict[str, float]]], key: str, scale: float
          ) -> tuple[list[float], list[float], list[float]]:
    """Per epoch, the smallest and largest finite value of `key` over `curves`."""
    by_epoch: dict[float, list[float]] = {}
    for rows in curves:
        for r in rows:
            if math.isfinite(r.get(key, math.nan)):
                by_epoch.setdefault(r["epoch"], []).append(scale * r[key])
    epochs = sorted(by_epoch)
    return epochs, [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs]


def figure(runs: list[Run]) -> tuple[Any, int]:
    """report.png's figure and the number of runs it shows: curves C (training loss), A (training
    accuracy) and B (test accuracy) per epoch, one panel each. Up to MAX_LEGEND runs each get a
    named line; with more, the best LEGEND_BEST by final test accuracy do, and the rest share one
    shaded band (the smallest to the largest value at each epoch), named with how many runs it
    holds. A task without accuracy (an autoencoder) has only curve C."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    curves = [(run, rows) for run in runs if (rows := _curve_rows(run))]
    if len(curves) > MAX_LEGEND:
        ranked = sorted(curves, key=lambda c: _final_score(c[1]), reverse=True)
        named, folded = ranked[:LEGEND_BEST], ranked[LEGEND_BEST:]
    else:
        named, folded = curves, []

    fig, (loss, train, test) = plt.subplots(3, 1, figsize=(8, 9.5), sharex=True)
    panels = ((loss, "train_loss", 1), (train, "train_acc", 100), (test, "test_acc", 100))
    if folded:
        label = f"{len(folded)} other runs (min to max)"
        for axis, key, scale in panels:
            epochs, low, high = _band([rows for _, rows in folded], key, scale)
            axis.fill_between(epochs, low, high, color="0.6", alpha=0.35, lw=0, label=label)
    for run, rows in named:
        epochs = [r["epoch"] for r in rows]
        line, = loss.plot(epochs, [r["train_loss"] for r in rows], "o-", ms=3, label=_label(run))
        for axis, key, scale in panels[1:]:
            if all(key in r for r in rows):  # a task without accuracy has only its loss
                axis.plot(epochs, [scale * r[key] for r in rows], "o-", ms=3,
                          color=line.get_color())
    loss.set_ylabel("C: training loss (the task's)")
    train.set_ylabel("A: training accuracy (%)")
    test.set_ylabel("B: test accuracy (%)")
    test.set_xlabel("epoch")
    test.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # shared by all three
    if curves:
        loss.set_yscale("log")
        loss.legend(fontsize="small")
    for axis in (loss, train, test):
        axis.grid(alpha=0.3)
    drawn = len(curves)
    title = f"{drawn} run{'s' if drawn != 1 else ''}: curves C, A and B"
    if folded:
        title += f"\nthe best {len(named)} by final score named, the other {len(folded)} as a band"
    fig.suptitle(title)
    fig.tight_layout()
    return fig, drawn


def plot(path: Path, runs: list[Run]) -> int:
    """report.png (see `figure`); returns the number of runs it shows."""
    fig, drawn = figure(runs)
    import matplotlib.pyplot as plt

    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return drawn


def _label(run: Run) -> str:
    """The legend entry of a run: its name, backend, struct, optimizer and learning rate."""
    row = run.row
    parts = [f"{run.name}:", str(row.get("backend")), str(row.get("struct"))]
    if row.get("optimizer"):
        parts.append(str(row["optimizer"]))
    if row.get("lr") is not None:
        parts.append(f"lr {row['lr']:g}")
    return " ".join(parts)
