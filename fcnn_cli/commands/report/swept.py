"""The config keys `fcnn report` shows beyond its fixed columns: every setting the runs differ in.

An Optuna search over `dropout.hidden` and `augment.shift`, or a grid over `activation`, gives
runs that differ in keys no fixed column shows; each such key becomes a column of its own, headed
by the dotted key as it is typed on the command line, as MLflow's and W&B's run tables show the
swept parameters. A key every run shares is no column (it would only lengthen the title), unless
--sort or --columns names it.

What a run computed on counts as a setting too: the BLAS library, its kernel and its threads
that metrics.json records (`fcnn_cli.backends.threads.describe`). Runs with the same settings on
different BLAS threads or kernels give different bits, so those columns appear when the runs
differ in them. `threads` is the count a run was pinned to, as metrics.json has it: a SLURM
job's config says null, and it ran on its cpus_per_task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fcnn_cli.commands.report.collect import Run
from fcnn_cli.commands.report.groups import IGNORED_KEYS, comparable

# Config keys a fixed column already shows: backend, task, data, struct, opt (which describes
# every optimizer.* key: "sgd nesterov 0.9"), lr, anneal, batch, and epochs (done/max_epochs).
COVERED = ("backend.name", "task.name", "dataset.name", "struct", "optimizer", "lr", "annealing",
           "batch_size", "max_epochs")
# A probe's settings did something only in a run that trained one (probe.layer set); in any
# other run they are unused defaults, and count as absent.
PROBE, PROBE_LAYER = "probe", "probe.layer"
# What a run computed on, from its metrics.json: shown like a setting the runs differ in (its
# `threads` in place of the config's, which null leaves to the machine).
MACHINE = ("threads", "blas", "blas_kernel", "blas_threads")


def _under(key: str, roots: Iterable[str]) -> bool:
    """Whether `key` is one of `roots` or below one ("optimizer.momentum" is under "optimizer")."""
    return any(key == root or key.startswith(f"{root}.") for root in roots)


def settings_of(run: Run) -> dict[str, Any]:
    """The run's config keys (dotted) that are settings no fixed column shows, with their values,
    and what it computed on (MACHINE, from metrics.json).

    Left out: the fixed columns' keys, the keys that change no result (groups.IGNORED_KEYS:
    display, checkpoints, tracking, the sweeper's objective) and an unused probe's keys."""
    probe_ran = run.config.get(PROBE_LAYER) is not None
    return {**{key: value for key, value in run.config.items()
               if not _under(key, (*COVERED, *IGNORED_KEYS))
               and (probe_ran or key == PROBE_LAYER or not _under(key, (PROBE,)))},
            **_machine(run.path)}


def _machine(path: Path) -> dict[str, Any]:
    """The MACHINE keys metrics.json records for the run in `path` (none it lacks: a run from
    before them, or an unfinished one)."""
    from fcnn_cli.runs.layout import RunDir

    metrics = RunDir(path).read_metrics() or {}
    return {key: metrics[key] for key in MACHINE if metrics.get(key) is not None}


def setting_keys(runs: Iterable[Run]) -> list[str]:
    """Every setting key of `runs`, in config order (config.yaml's: related keys side by side)."""
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(settings_of(run)))
    return list(keys)


def swept_keys(runs: Iterable[Run]) -> list[str]:
    """The setting keys with more than one value among the runs that have them, in config order.

    A key missing from a run's config (one written by an fcnn without that key, or a run without
    a config) says nothing about the setting: it neither makes a key swept nor hides one."""
    values: dict[str, set[str]] = {}
    for run in runs:
        for key, value in settings_of(run).items():
            values.setdefault(key, set()).add(comparable(value))
    return [key for key, seen in values.items() if len(seen) > 1]


def shown_keys(runs: Sequence[Run], named: Iterable[str | None] = (),
               group_key: str | None = None) -> list[str]:
    """The setting keys that get a column: those the runs differ in and those `named` (by --sort
    or --columns), in config order; never the --group-by key, which has a column of its own."""
    wanted = set(swept_keys(runs)) | set(named)
    return [key for key in setting_keys(runs) if key in wanted and key != group_key]


def fill_rows(runs: Iterable[Run], keys: Sequence[str]) -> None:
    """Each run's values of `keys` in its row, where the table, the sort, --group-by and the files
    read them. A value the row has already (the seed, from metrics.json) is kept."""
    for run in runs:
        settings = settings_of(run)
        for key in keys:
            if key in settings:
                run.row.setdefault(key, settings[key])


def with_setting_columns(columns: Sequence[tuple[str, str]],
                         keys: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`columns` and one column per key of `keys`, headed by the key itself, after the fixed
    settings (before the training accuracy), where the settings that differ are read."""
    at = [key for key, _ in columns].index("train_acc")
    return (*columns[:at], *((key, key) for key in keys), *columns[at:])
