"""`fcnn report --group-by KEY`: runs that differ only in KEY (typically `seed`) folded into one row,
each accuracy as mean ± standard deviation over the group's completed runs.

"98.52%" from one seed becomes "98.55 ± 0.05" over 5 seeds: the spread says which differences
between two configurations are real.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from fcnn_cli.commands.report.collect import Run

# Config keys (and the keys below them) that change no result: display, what a run returns to a
# sweeper, resuming and checkpoints, tracking. Left out when comparing configs (and from the
# report's setting columns, swept.py).
IGNORED_KEYS = ("progress", "plot", "objective", "resume", "checkpoint", "logger", "hydra")
# Averaged over a group: the accuracies and the fit time.
AVERAGED = ("train_acc", "val_acc", "test_acc", "fit_seconds")
# A report row's outcomes, which say nothing about what a run was asked to do.
OUTCOMES = ("run", "status", "error", "epochs", "train_loss", "epochs_to_99", "probe_val_acc",
            "probe_test_acc", "s_per_epoch", *AVERAGED)


def std_key(key: str) -> str:
    return f"{key}_std"


def comparable(value: Any) -> str:
    """A config value as a key to compare by; 1 and 1.0 (as typed on two command lines) alike."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return json.dumps(value, sort_keys=True, default=str)


def identity(run: Run, key: str) -> tuple[tuple[str, str], ...]:
    """What a run is apart from `key`: its config (or, without one, its report row), as a key."""
    if run.config:
        items = {k: v for k, v in run.config.items()
                 if k != key and k.split(".")[0] not in IGNORED_KEYS}
    else:
        items = {k: v for k, v in run.row.items()
                 if k != key and k not in OUTCOMES}
    return tuple(sorted((k, comparable(v)) for k, v in items.items()))


def value_of(run: Run, key: str) -> Any:
    """The run's value of `key` (dotted config key), from its config, else its report row."""
    if key in run.config:
        return run.config[key]
    return run.row.get(key)


def _names(runs: list[Run]) -> str:
    names = [run.name for run in runs]
    text = ",".join(names)
    return text if len(text) <= 24 or len(names) < 3 else f"{names[0]},...,{names[-1]}"


def _status(runs: list[Run]) -> str:
    counts = Counter(str(run.row.get("status")) for run in runs)
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def fold(runs: list[Run], key: str) -> list[Run]:
    """One Run per group of `runs` equal in everything but `key`, in the order groups first appear.

    The group's row keeps the shared columns, puts the members' names in `run`, their values of
    `key` in `key`, the number of completed runs in `n`, and for each averaged column the mean
    (and in `<column>_std` the sample standard deviation) over the completed members.
    """
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(identity(run, key), []).append(run)
    folded = []
    for members in groups.values():
        completed = [run for run in members if run.row.get("status") == "completed"]
        row = dict(members[0].row)
        row.update(run=_names(members), status=_status(members), n=len(completed))
        row[key] = ",".join(str(value_of(run, key)) for run in members)
        for column in AVERAGED:
            values = [run.row[column] for run in completed if run.row.get(column) is not None]
            row[column] = statistics.fmean(values) if values else None
            row[std_key(column)] = statistics.stdev(values) if len(values) > 1 else None
        group = Run(members[0].path, name=row["run"], row=row, config={})
        group.best = any(run.best for run in members)
        folded.append(group)
    return folded
