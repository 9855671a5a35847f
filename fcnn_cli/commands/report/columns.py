"""Which columns of `fcnn report`'s table fit the terminal, and how wide each is.

A pure function of the rows and a width (`choose`): the settings every run shares go to the title
("dataset digits, batch 50, sgd"); the run names, the sorted and grouped columns, the status and
the accuracies come first, then the settings that differ between the runs, then the other
measurements; a column that does not fit is left out whole (and named below the table), never
cut. A row stays one line (only a very long run name folds); a header may wrap at its spaces
(a config key's also after its dots). report.csv and report.md keep every column.

Beyond the fixed columns, a column named by a config key (`dropout.hidden`: one the runs differ
in, see swept.py) is a setting like the fixed ones, and a number when all its values are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fcnn_cli.commands.report.cells import cell as text_of
from fcnn_cli.commands.report.collect import ACCURACIES, COLUMN_KEYS, COLUMNS, Run

# What the runs were asked to do: shown in the title when every run has the same value.
SETTINGS = ("backend", "task", "dataset", "struct", "optimizer", "lr", "annealing", "batch_size",
            "epochs")
# How a shared setting reads in the title: "<label> <value>" ("" : the value alone, e.g. "sgd").
TITLE_LABELS = {"backend": "backend", "task": "task", "dataset": "dataset", "struct": "struct",
                "optimizer": "", "lr": "lr", "annealing": "anneal", "batch_size": "batch",
                "epochs": "epochs"}
# Shown right-aligned and never wrapped: their cells are numbers ("77.38 ± 0.05", "2/10"); so is
# a config key's column whose values are all numbers (is_numeric).
NUMERIC = (*ACCURACIES, "lr", "annealing", "batch_size", "fit_seconds", "epochs", "train_loss",
           "epochs_to_99", "s_per_epoch", "n")
# The fixed columns and a group's count: any other column is a config key (a setting).
KNOWN = (*COLUMN_KEYS, "n")
# The measurements after the accuracies, in the order they are given room.
OTHER_OUTCOMES = ("train_loss", "epochs_to_99", "fit_seconds", "s_per_epoch")
# The accuracies on held-out data, in the order they are given room (before the settings that
# differ; the training accuracy after them).
HELD_OUT = ("test_acc", "probe_test_acc", "val_acc", "probe_val_acc")
# A run name or a group's values may fold (they have no spaces) but keep this much room first.
NAME_MIN = 24
# Between two columns: one space of padding and one of the (blank) divider.
GAP = 2
EMPTY = "-"


@dataclass
class Choice:
    """The table `choose` laid out: its columns in display order with their widths, the shared
    settings for the title, and the columns left out for lack of room."""

    keys: list[str]
    widths: dict[str, int]
    shared: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        """The table's width in characters."""
        return sum(self.widths[k] for k in self.keys) + GAP * max(len(self.keys) - 1, 0)


def table_width(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def _after_dots(text: str) -> list[str]:
    """`text` cut after each dot: "dropout.hidden" -> ["dropout.", "hidden"]."""
    return re.findall(r"[^.]*\.|[^.]+", text) or [""]


def _words(text: str) -> list[str]:
    """Where a header may break: at its spaces ("train" over "%"), and after the dots of a dotted
    config key ("dropout." over "hidden"), so that a long key does not widen a column of short
    numbers."""
    return [piece for word in text.split() for piece in _after_dots(word)] or [""]


def header_lines(header: str, width: int) -> str:
    """`header` with a line break after a dot wherever the next piece would pass `width` (the
    table breaks a header at its spaces itself, but not at dots)."""
    lines = [""]
    for piece in _after_dots(header):
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(lines)


def is_setting(key: str) -> bool:
    """What the runs were asked to do: a fixed setting, or a config key."""
    return key in SETTINGS or key not in KNOWN


def is_numeric(runs: Sequence[Run], key: str) -> bool:
    """A column of numbers: one of NUMERIC, or a config key whose values are all numbers."""
    if key in KNOWN:
        return key in NUMERIC
    values = [run.row.get(key) for run in runs]
    present = [value for value in values if value is not None]
    return bool(present) and all(isinstance(value, int | float) and not isinstance(value, bool)
                                 for value in present)


def natural_width(header: str, cells: Sequence[str]) -> int:
    """A column's width with nothing wrapped."""
    return max([len(header), *(len(c) for c in cells)])


def min_width(header: str, cells: Sequence[str], may_fold: bool) -> int:
    """The least a column can be: every cell on one line, the header wrapped at its spaces (and
    dots); only a run name (or a group's values) that is always shown may fold (`may_fold`),
    beyond NAME_MIN characters."""
    header_min = max(len(w) for w in _words(header))
    if may_fold:
        return max(header_min, min(natural_width(header, cells), NAME_MIN))
    return max([header_min, *(len(c) for c in cells)])


def title_text(key: str, value: str) -> str:
    label = TITLE_LABELS.get(key, key)
    return f"{label} {value}" if label else value


def choose(runs: Sequence[Run], width: int, columns: Sequence[tuple[str, str]] = COLUMNS,
           cell: Callable[[Run, str], str] | None = None, candidates: Sequence[str] | None = None,
           pinned: Sequence[str] = ()) -> Choice:
    """The columns of the printed table for `runs` in `width` characters.

    `candidates`: the keys that may be shown (default: every one of `columns`), in display order;
    `pinned`: keys shown whatever the width (the sort and group-by columns). The run name is
    always shown. A setting with the same value in every run (not pinned) goes to `shared`, as
    title text; the rest get room in this order while it lasts: the pinned ones and the run,
    the status (and a group's n), the test and validation accuracies, the settings that differ,
    the training accuracy, the other measurements (only with their header unwrapped), and last
    the columns without a value in any run (the same). A column that does not fit whole is left
    out (`left_out`), and a later, narrower one may still fit. A column is taken at its natural
    width when that fits, else with its header wrapped (at spaces and dots); the room left at
    the end widens those again.
    """
    cell = cell or text_of
    headers = dict(columns)
    keys = list(candidates if candidates is not None else headers)
    texts = {key: [cell(run, key) for run in runs] for key in keys}
    first = ["run", *(k for k in pinned if k != "run")]
    first = [k for k in first if k in keys]

    shared: list[str] = []
    varying: list[str] = []
    empty: list[str] = []
    for key in keys:
        values = set(texts[key])
        if key in first:
            continue
        if values <= {EMPTY}:
            empty.append(key)
        elif is_setting(key) and len(values) == 1:
            shared.append(title_text(key, texts[key][0]))
        else:
            varying.append(key)

    order = [*first, *(k for k in ("status", "n", *HELD_OUT) if k in varying),
             *(k for k in keys if k in varying and is_setting(k)),
             *(k for k in ("train_acc", *OTHER_OUTCOMES) if k in varying)]
    order += [k for k in varying if k not in order] + empty

    highs = {k: natural_width(headers[k], texts[k]) for k in order}
    # The other measurements, and a column without a value, get room only with their header
    # whole: a header wrapped over three lines is not worth a column that says little.
    lows = {k: highs[k] if k in empty or k in OTHER_OUTCOMES and k not in first
            else min_width(headers[k], texts[k], k in first and not is_numeric(runs, k))
            for k in order}
    widths: dict[str, int] = {}
    left_out: list[str] = []
    for key in order:  # each at its natural width if it fits, else with its header wrapped
        # A config key's header is long beside its values ("schedule.warmup_epochs" over "1"):
        # such a column first gets room with its header wrapped, for the next to fit too; the
        # room left at the end unwraps it.
        sizes = (lows[key],) if key not in KNOWN else (highs[key], lows[key])
        for candidate in sizes:
            if table_width([*widths.values(), candidate]) <= width:
                widths[key] = candidate
                break
        else:
            if key in first:
                widths[key] = lows[key]
            else:
                left_out.append(key)
    # The room left widens the chosen columns towards their natural widths, first come first.
    taken = list(widths)
    spare = width - table_width(list(widths.values()))
    for key in taken:
        grow = min(max(spare, 0), highs[key] - widths[key])
        widths[key] += grow
        spare -= grow
    shown = [k for k in keys if k in taken]
    return Choice(shown, widths, shared, [k for k in keys if k in left_out])


def every_column(runs: Sequence[Run], keys: Sequence[str],
                 columns: Sequence[tuple[str, str]] = COLUMNS,
                 cell: Callable[[Run, str], str] | None = None) -> Choice:
    """`keys` in this order, each at its natural width (--wide, --columns)."""
    cell = cell or text_of
    headers = dict(columns)
    widths = {k: natural_width(headers[k], [cell(run, k) for run in runs]) for k in keys}
    return Choice(list(keys), widths)
