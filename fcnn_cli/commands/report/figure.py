"""report.png: the runs' curves overlaid (curve C, A and B), the best few named in the legend.

Runs often draw the same curve (numpy and jax train bit for bit alike): each run has a line style,
marker, width and marker size of its own, the first drawn widest, so a run under another still
shows around it. The legend, below the panels, names each run by what differs between the runs;
the title names the dataset and what they share.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.commands.report.cells import cell
from fcnn_cli.commands.report.collect import Run

# report.png names every run in its legend up to MAX_LEGEND runs; beyond that it draws and
# names the best LEGEND_BEST by final test accuracy, and folds the others into one shaded band.
MAX_LEGEND = 10


LEGEND_BEST = 5

# What each named run is drawn with, the k-th run taking the k-th of each: (line style, marker).
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
# The first run's line width and marker size; the last run's. Identical curves drawn first-widest
# nest inside each other instead of hiding each other.
WIDEST, NARROWEST = (3.0, 11.0), (1.0, 4.0)
# At most this many markers on a line: beyond, every n-th epoch, a different one for each run.
MARKS_PER_LINE = 15
# The settings a run was asked for, in the order they are named: report.png names those that
# differ between its runs in the legend, the others in its title.
SETTINGS = ("dataset", "backend", "task", "struct", "optimizer", "lr", "annealing", "batch_size",
            "max_epochs")
NO_BREAK = "\u00a0"
# The title's lines, and a legend entry's, in characters: a longer line runs off the figure (runs
# that differ in a dozen settings name them all), so both wrap between settings.
TITLE_WIDTH = 95
LEGEND_WIDTH = 100


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


def setting_texts(runs: Sequence[Run]) -> dict[str, list[str]]:
    """For each setting of SETTINGS and each config key (swept.py), its text in each run
    ("lr 0.1", "dropout.hidden 0.2"); a setting no run has is left out."""
    from fcnn_cli.commands.report.columns import title_text
    from fcnn_cli.commands.report.swept import setting_keys, settings_of

    # No-break spaces within a setting: a wrapped title breaks between settings, never inside one.
    texts: dict[str, list[str]] = {}
    for key in SETTINGS:
        if any(run.row.get(key) is not None for run in runs):
            texts[key] = [title_text(key, cell(run, key)).replace(" ", NO_BREAK) for run in runs]
    settings = [settings_of(run) for run in runs]
    for key in setting_keys(runs):
        texts[key] = [f"{key}{NO_BREAK}{_text(values.get(key))}" for values in settings]
    return texts


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def labels_and_title(runs: Sequence[Run]) -> tuple[list[str], str]:
    """Each run's legend entry (its name and the settings that differ between `runs`), and the
    title's second line (wrapped between settings): the dataset(s), the fixed settings every run
    shares, and the names of those that differ."""
    texts = setting_texts(runs)
    differ = [key for key, values in texts.items() if len(set(values)) > 1]
    labels = [textwrap.fill(run.name + (": " + ", ".join(texts[key][i] for key in differ)
                                        if differ else ""), LEGEND_WIDTH,
                            subsequent_indent="    ").replace(NO_BREAK, " ")
              for i, run in enumerate(runs)]
    datasets = sorted({str(run.row.get("dataset")) for run in runs if run.row.get("dataset")})
    # Shared: the fixed settings only (every config key would bury the line).
    shared = [texts[key][0] for key in SETTINGS if key in texts and key not in differ
              and key != "dataset"]
    where = f"on {' and '.join(datasets)}" if datasets else "on an unnamed dataset"
    line = where + (f"; all with {', '.join(shared)}" if shared else "")
    if differ:
        line += f"; they differ in {', '.join(differ)}"
    return labels, textwrap.fill(line, TITLE_WIDTH).replace(NO_BREAK, " ")


def figure(runs: list[Run]) -> tuple[Any, int]:
    """report.png's figure and the number of runs it shows: curves C (training loss), A (training
    accuracy) and B (test accuracy) per epoch, one panel each. Up to MAX_LEGEND runs each get a
    named line; with more, the best LEGEND_BEST by final test accuracy do, and the rest share one
    shaded band (the smallest to the largest value at each epoch), named with how many runs it
    holds. A task without accuracy (an autoencoder) has only curve C."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    curves = [(run, rows) for run in runs if (rows := _curve_rows(run))]
    if len(curves) > MAX_LEGEND:
        ranked = sorted(curves, key=lambda c: _final_score(c[1]), reverse=True)
        named, folded = ranked[:LEGEND_BEST], ranked[LEGEND_BEST:]
    else:
        named, folded = curves, []

    # A figure outside pyplot (no backend chosen, nothing registered: Runs.plot in a notebook);
    # laid out constrained, so the legend below the panels gets room of its own.
    fig = Figure(figsize=(8, 10.5), layout="constrained")
    loss, train, test = fig.subplots(3, 1, sharex=True)
    panels = ((loss, "train_loss", 1), (train, "train_acc", 100), (test, "test_acc", 100))
    if folded:
        label = f"{len(folded)} other runs (min to max)"
        for axis, key, scale in panels:
            epochs, low, high = _band([rows for _, rows in folded], key, scale)
            axis.fill_between(epochs, low, high, color="0.6", alpha=0.35, lw=0, label=label)
    labels, settings_line = labels_and_title([run for run, _ in curves])
    label_of = {id(run): label for (run, _), label in zip(curves, labels, strict=True)}
    for k, (run, rows) in enumerate(named):
        epochs = [r["epoch"] for r in rows]
        style = line_style(k, len(named), len(epochs))
        loss.plot(epochs, [r["train_loss"] for r in rows], label=label_of[id(run)], **style)
        for axis, key, scale in panels[1:]:
            if all(key in r for r in rows):  # a task without accuracy has only its loss
                axis.plot(epochs, [scale * r[key] for r in rows], **style)
    loss.set_ylabel("C: training loss (the task's)")
    train.set_ylabel("A: training accuracy (%)")
    test.set_ylabel("B: test accuracy (%)")
    test.set_xlabel("epoch")
    test.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # shared by all three
    if curves:
        loss.set_yscale("log")
        handles, texts = loss.get_legend_handles_labels()
        if folded:  # drawn first, beneath the named runs; named after them
            handles, texts = handles[1:] + handles[:1], texts[1:] + texts[:1]
        columns = 2 if len(texts) > 3 and max(map(len, texts)) <= 40 else 1
        fig.legend(handles, texts, loc="outside lower center", ncols=columns, fontsize="small")
    for axis in (loss, train, test):
        axis.grid(alpha=0.3)
    drawn = len(curves)
    title = f"{drawn} run{'s' if drawn != 1 else ''}: curves C, A and B"
    if curves:
        title += "\n" + settings_line
    if folded:
        title += f"\nthe best {len(named)} by final score named, the other {len(folded)} as a band"
    fig.suptitle(title, fontsize="medium")
    return fig, drawn


def line_style(k: int, n: int, epochs: int) -> dict[str, Any]:
    """How the k-th of n named runs is drawn: its own colour, line style and hollow marker; the
    first widest, the last narrowest; with many epochs, a marker every few epochs, starting at
    another epoch for each run."""
    share = k / (n - 1) if n > 1 else 0.0
    width, size = (wide - share * (wide - narrow) for wide, narrow in zip(WIDEST, NARROWEST,
                                                                          strict=True))
    step = math.ceil(epochs / MARKS_PER_LINE)
    return {"color": f"C{k % 10}", "linestyle": LINE_STYLES[k % len(LINE_STYLES)],
            "marker": MARKERS[k % len(MARKERS)], "linewidth": width, "markersize": size,
            "markerfacecolor": "none", "markeredgewidth": 1.3,
            "markevery": (k % step, step) if step > 1 else None}


def plot(path: Path, runs: list[Run]) -> int:
    """report.png (see `figure`); returns the number of runs it shows."""
    fig, drawn = figure(runs)
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    return drawn
