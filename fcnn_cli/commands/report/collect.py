"""Finding and reading the runs and Optuna studies under the directories `fcnn report` is given.

A run directory is any directory holding `.hydra/config.yaml` (or a `metrics.json`); its
`metrics.json`, written last by `fcnn train`, marks it ended (see `fcnn_cli.runs.layout`). A run
without one is unfinished (still running, killed or crashed); one whose metrics cannot be read,
or that a sweep recorded as failed, is failed, with its reason: the report never stops at a bad
run. A sweep root holding Optuna's `optimization_results.yaml` also gives a study. A directory
`fcnn bench` wrote (under outputs/bench/) is no run: it is set apart, never shown as unfinished.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcnn_cli.core.model import struct_text
from fcnn_cli.runs.layout import BENCH, FAILED, RunDir, find_runs, load_yaml, natural_key

# (key, table header). The key names a --sort column and a report.csv column.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run", "run"),
    ("backend", "backend"),
    ("task", "task"),
    ("dataset", "data"),
    ("struct", "struct"),
    ("optimizer", "opt"),
    ("lr", "lr"),
    ("annealing", "anneal"),
    ("batch_size", "batch"),
    ("epochs", "epochs"),
    ("train_acc", "train %"),
    ("val_acc", "val %"),
    ("test_acc", "test %"),
    ("train_loss", "loss"),
    ("epochs_to_99", "ep to 99%"),
    ("probe_val_acc", "probe val %"),
    ("probe_test_acc", "probe test %"),
    ("fit_seconds", "fit s"),
    ("s_per_epoch", "s/epoch"),
    ("requeues", "requeued"),
    ("status", "status"),
)


COLUMN_KEYS = tuple(key for key, _ in COLUMNS)


# Shown only when some run has them: the task when not every run is a classifier, a probe's
# accuracies when some run has a probe, how often a job was requeued (SLURM's time limit,
# preemption) when some was.
OPTIONAL = ("task", "probe_val_acc", "probe_test_acc", "requeues")


# Shown in percent, and sorted best first (descending) unless --reverse; the rest ascending.
ACCURACIES = ("train_acc", "val_acc", "test_acc", "probe_val_acc", "probe_test_acc")


# "ep to 99%": the first epoch whose training accuracy (curve A) reaches this.
TRAIN_ACC_TARGET = 0.99


OPTUNA_RESULTS = "optimization_results.yaml"


@dataclass
class Run:
    """One run directory as the report sees it."""

    path: Path
    name: str = ""
    row: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    best: bool = False
    # The run's .hydra/config.yaml as dotted keys (for --group-by).
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def curves_file(self) -> Path:
        return RunDir(self.path).curves


@dataclass
class Study:
    """An Optuna sweep's result, from its optimization_results.yaml."""

    root: Path
    best_value: float | None
    best_params: dict[str, Any]
    best_run: Run | None = None
    error: str | None = None


def find_studies(directory: Path) -> list[Path]:
    """Every Optuna sweep root at or below `directory`: with its results, or with its study's
    storage alone (a search interrupted or still running)."""
    from fcnn_cli.hydra_app.sweeps.search import STUDY_FILE

    roots = {p.parent for name in (OPTUNA_RESULTS, STUDY_FILE) for p in directory.rglob(name)}
    return sorted(roots, key=natural_key)


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_run(path: Path) -> Run:
    """The report row of one run directory; never raises for a broken run."""
    run = Run(path)
    run_dir = RunDir(path)
    # A missing or damaged file leaves blanks in the row, never a crash.
    config = run_dir.read_config()
    run.overrides = run_dir.read_overrides()
    status = run_dir.status()
    source = run_dir.read_metrics() or {}
    if isinstance(config, dict):
        from fcnn_cli.runs.record import flat_config

        run.config = flat_config(config)  # for --group-by
    struct = source.get("struct", config.get("struct") if isinstance(config, dict) else None)
    epochs = source.get("epochs_completed")
    fit_seconds = _number(source.get("fit_seconds"))
    optimizer = _get(config, "optimizer")
    # `annealing` sets the rates of the exponential schedule only (the default, and all there
    # was before schedule.*): under cosine or step it would be a setting that did nothing.
    annealed = (_get(config, "schedule", "name") or "exponential") == "exponential"
    run.row = {
        "backend": source.get("backend") or _get(config, "backend", "name"),
        "task": source.get("task") or _get(config, "task", "name"),
        "dataset": source.get("dataset") or _get(config, "dataset", "name"),
        "struct": struct_text(struct) if isinstance(struct, list | tuple) else (
            None if struct is None else str(struct)),
        "optimizer": _optimizer_text(optimizer, source.get("optimizer")),
        "lr": _number(source.get("lr", _get(config, "lr"))),
        "annealing": _number(source.get("annealing", _get(config, "annealing")))
        if annealed else None,
        "batch_size": source.get("batch_size", _get(config, "batch_size")),
        "epochs": epochs,
        "max_epochs": source.get("max_epochs", _get(config, "max_epochs")),
        "train_acc": _number(source.get("train_acc")),
        "val_acc": _number(source.get("val_acc")),
        "test_acc": _number(source.get("test_acc")),
        "train_loss": _number(source.get("train_loss")),
        "epochs_to_99": epochs_to(run.curves_file, "train_acc", TRAIN_ACC_TARGET),
        "probe_val_acc": _number(source.get("probe_val_acc")),
        "probe_test_acc": _number(source.get("probe_test_acc")),
        "fit_seconds": fit_seconds,
        "s_per_epoch": fit_seconds / epochs if fit_seconds is not None and isinstance(epochs, int)
        and epochs > 0 else None,
        "requeues": source.get("requeues") or None,  # None (no column) for a run never requeued
        "status": status,
        "error": run_dir.failure() if status == FAILED else None,
        "seed": source.get("seed", _get(config, "seed")),  # for --group-by seed
    }
    return run


def _optimizer_text(config: Any, name: Any) -> Any:
    """The optimizer as `optim.describe` names it, from a run's config; its name as a fallback."""
    from fcnn_cli.core.optim import describe

    try:
        return describe(config) if isinstance(config, dict) else name
    except (TypeError, ValueError):  # a hand-edited config with odd values
        return name or config.get("name")


def epochs_to(curves_file: Path, column: str, target: float) -> int | None:
    """The first epoch in `curves_file` whose `column` reaches `target`; None if none does."""
    from fcnn_cli.runs.curves import read_curves

    try:
        rows = read_curves(curves_file)
    except (OSError, ValueError, KeyError):
        return None
    for row in rows:
        if row.get(column, -math.inf) >= target and "epoch" in row:
            return int(row["epoch"])
    return None


def read_study(root: Path, runs: list[Run]) -> Study:
    """The study in `root` and the run among `runs` that Optuna's best parameters point at."""
    data = load_yaml(root / OPTUNA_RESULTS)
    if data is None and not (root / OPTUNA_RESULTS).exists():
        from fcnn_cli.hydra_app.sweeps.search import stored_best

        stored = stored_best(root)  # the best trial so far, from the study's own storage
        data = None if stored is None else {"best_value": stored[0], "best_params": stored[1]}
    params = data.get("best_params") if isinstance(data, dict) else None
    if not isinstance(params, dict):  # a damaged file is reported, not fatal
        return Study(root, None, {}, error=f"unreadable {OPTUNA_RESULTS}")
    study = Study(root, _number(data.get("best_value")), dict(params))
    # The sweeper passed each trial's parameters as overrides "key=value"; the best trial's
    # run is the one whose overrides contain all of them (formatted the same way).
    wanted = {f"{key}={value}" for key, value in study.best_params.items()}
    for run in runs:
        if run.path.is_relative_to(root) and wanted <= set(run.overrides):
            study.best_run = run
            run.best = True
            break
    return study


def bench_only_keys() -> frozenset[str]:
    """The config keys only `fcnn bench` reads (repeats, warmup, backends, ...)."""
    from fcnn_cli.config import schema

    def names(app: str) -> set[str]:
        return {key.name for key in schema.keys_of(app)}

    return frozenset(names(schema.BENCH) - names(schema.TRAIN))


def is_bench(run: Run) -> bool:
    """Whether `run` is a directory `fcnn bench` wrote: its bench.json, or (a bench stopped before
    writing it) a config holding keys only the bench reads."""
    return (run.path / BENCH).is_file() or not bench_only_keys().isdisjoint(run.config)


def collect_runs(directories: list[Path], benches: list[Path] | None = None,
                 ) -> tuple[list[Run], list[Study]]:
    """The runs and Optuna studies under `directories`, each run named relative to them. The
    directories `fcnn bench` wrote are left out, and added to `benches` when it is given."""
    paths: list[Path] = []
    for directory in directories:
        paths.extend(p for p in find_runs(directory) if p not in paths)
    base = Path(os.path.commonpath([d.resolve() for d in directories]))
    runs = []
    for path in paths:
        run = read_run(path)
        if is_bench(run):
            if benches is not None:
                benches.append(path)
            continue
        rel = path.resolve().relative_to(base) if path.resolve().is_relative_to(base) else path
        run.name = str(rel) if str(rel) != "." else path.resolve().name
        run.row = {"run": run.name, **run.row}
        runs.append(run)
    roots: list[Path] = []
    for directory in directories:
        roots.extend(r for r in find_studies(directory) if r not in roots)
    studies = [read_study(root, runs) for root in roots]
    return runs, studies


def sort_runs(runs: list[Run], column: str, reverse: bool = False) -> list[Run]:
    """Runs ordered by `column`: accuracies best first, the rest ascending; --reverse flips.

    Runs without a value in that column always come last.
    """
    descending = (column in ACCURACIES) != reverse

    def present(run: Run) -> bool:
        value = run.row.get(column)
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    def key(run: Run) -> Any:
        value = run.row.get(column)
        if column == "run":
            return natural_key(Path(str(value)))
        if column == "struct":  # by depth, then widths
            sizes = [int(s) for s in re.findall(r"\d+", str(value))]
            return (len(sizes), sizes)
        # Numbers before text, so a stray string in a hand-edited file cannot break the sort.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return (1, 0.0, str(value))

    with_value = sorted((r for r in runs if present(r)), key=key, reverse=descending)
    return with_value + [r for r in runs if not present(r)]
