"""`fcnn report`: one table over many runs (single runs and sweeps), with files to keep.

A run directory is any directory holding `.hydra/config.yaml` (or a `metrics.json`); its
`metrics.json`, written last by `fcnn train`, marks it finished. A run without one is shown as
unfinished (still running, interrupted or crashed), one whose metrics cannot be read as failed:
the report never stops at a bad run. A sweep root holding Optuna's `optimization_results.yaml`
also gets the study's best parameters and value, and the run that produced them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcnn_cli.errors import fail
from fcnn_cli.report_groups import AVERAGED, std_key

# (key, table header). The key names a --sort column and a report.csv column.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run", "run"),
    ("backend", "backend"),
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
    ("fit_seconds", "fit s"),
    ("status", "status"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
# Shown in percent, and sorted best first (descending) unless --reverse; the rest ascending.
ACCURACIES = ("train_acc", "val_acc", "test_acc")
OPTUNA_RESULTS = "optimization_results.yaml"
# Curves drawn in report.png at most, and runs named in its legend at most.
MAX_CURVES = 60
MAX_LEGEND = 12


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
        return self.path / "curves.csv"


@dataclass
class Study:
    """An Optuna sweep's result, from its optimization_results.yaml."""

    root: Path
    best_value: float | None
    best_params: dict[str, Any]
    best_run: Run | None = None
    error: str | None = None


# --- finding and reading runs -------------------------------------------------------------------

def _natural_key(path: Path) -> list[Any]:
    """Sort sweep subdirectories 0, 1, 2, ..., 10 rather than 0, 1, 10, 2."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_runs(directory: Path) -> list[Path]:
    """Every run directory at or below `directory`."""
    found = []
    for root, dirs, files in os.walk(directory):
        here = Path(root)
        if (here / ".hydra" / "config.yaml").is_file() or "metrics.json" in files:
            found.append(here)
        # Hydra's and submitit's bookkeeping never holds runs.
        dirs[:] = [d for d in dirs if d not in (".hydra", ".submitit")]
    return sorted(found, key=_natural_key)


def find_studies(directory: Path) -> list[Path]:
    """Every Optuna sweep root at or below `directory`."""
    return sorted((p.parent for p in directory.rglob(OPTUNA_RESULTS)), key=_natural_key)


def _load_yaml(path: Path) -> Any:
    import yaml  # PyYAML, a dependency of omegaconf

    with open(path) as f:
        return yaml.safe_load(f)


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
    # A missing or damaged file (any YAML error) leaves blanks in the row, never a crash.
    try:
        config = _load_yaml(path / ".hydra" / "config.yaml")
    except Exception:  # noqa: BLE001
        config = None
    try:
        overrides = _load_yaml(path / ".hydra" / "overrides.yaml")
    except Exception:  # noqa: BLE001
        overrides = None
    run.overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    if isinstance(config, dict):
        from fcnn_cli.run_outputs import flat_config

        run.config = flat_config(config)

    metrics: Any = None
    metrics_file = path / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text())
            if not isinstance(metrics, dict):
                metrics = None
        except (OSError, ValueError):
            metrics = None
        status = str(metrics.get("status", "failed")) if metrics is not None else "failed"
    else:
        status = "unfinished"
    source = metrics or {}
    struct = source.get("struct", config.get("struct") if isinstance(config, dict) else None)
    epochs = source.get("epochs_completed")
    run.row = {
        "backend": source.get("backend") or _get(config, "backend", "name"),
        "dataset": source.get("dataset") or _get(config, "dataset", "name"),
        "struct": _struct_text(struct),
        "optimizer": source.get("optimizer") or _get(config, "optimizer", "name"),
        "lr": _number(source.get("lr", _get(config, "lr"))),
        "annealing": _number(source.get("annealing", _get(config, "annealing"))),
        "batch_size": source.get("batch_size", _get(config, "batch_size")),
        "epochs": epochs,
        "max_epochs": source.get("max_epochs", _get(config, "max_epochs")),
        "train_acc": _number(source.get("train_acc")),
        "val_acc": _number(source.get("val_acc")),
        "test_acc": _number(source.get("test_acc")),
        "fit_seconds": _number(source.get("fit_seconds")),
        "status": status,
        "seed": source.get("seed", _get(config, "seed")),  # for --group-by seed
        # Why a run failed, when the SLURM launcher (or another) recorded it.
        "failure": source.get("failure") if status == "failed" else None,
    }
    return run


def _struct_text(struct: Any) -> str | None:
    if isinstance(struct, list | tuple):
        return "[" + ",".join(str(s) for s in struct) + "]"
    return None if struct is None else str(struct)


def read_study(root: Path, runs: list[Run]) -> Study:
    """The study in `root` and the run among `runs` that Optuna's best parameters point at."""
    try:
        data = _load_yaml(root / OPTUNA_RESULTS)
        params = data.get("best_params") or {}
        study = Study(root, _number(data.get("best_value")), dict(params))
    except Exception as err:  # noqa: BLE001 - a damaged file is reported, not fatal
        return Study(root, None, {}, error=f"unreadable {OPTUNA_RESULTS}: {err}")
    # The sweeper passed each trial's parameters as overrides "key=value"; the best trial's
    # run is the one whose overrides contain all of them (formatted the same way).
    wanted = {f"{key}={value}" for key, value in study.best_params.items()}
    for run in runs:
        if run.path.is_relative_to(root) and wanted <= set(run.overrides):
            study.best_run = run
            run.best = True
            break
    return study


def collect(directories: list[Path]) -> tuple[list[Run], list[Study]]:
    """The runs and Optuna studies under `directories`, each run named relative to them."""
    paths: list[Path] = []
    for directory in directories:
        paths.extend(p for p in find_runs(directory) if p not in paths)
    base = Path(os.path.commonpath([d.resolve() for d in directories]))
    runs = []
    for path in paths:
        run = read_run(path)
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
            return _natural_key(Path(str(value)))
        if column == "struct":  # by depth, then widths
            sizes = [int(s) for s in re.findall(r"\d+", str(value))]
            return (len(sizes), sizes)
        # Numbers before text, so a stray string in a hand-edited file cannot break the sort.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return (1, 0.0, str(value))

    with_value = sorted((r for r in runs if present(r)), key=key, reverse=descending)
    return with_value + [r for r in runs if not present(r)]


# --- formatting ---------------------------------------------------------------------------------

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
    if key in ("lr", "annealing") and isinstance(value, float):
        return f"{value:.4g}"
    if key == "fit_seconds":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if key == "run" and run.best:
        return f"{value} *"
    return str(value)


def _csv_value(value: Any) -> Any:
    return "" if value is None else value


def write_csv(path: Path, runs: list[Run], columns: tuple[tuple[str, str], ...] = COLUMNS) -> None:
    """report.csv: the table's columns (raw values, accuracies as fractions) plus max_epochs."""
    keys = [key for key, _ in columns]
    if any(std_key(column) in run.row for run in runs for column in AVERAGED):
        keys += [std_key(column) for column in AVERAGED]
    keys += ["max_epochs", "best", "path", "failure"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for run in runs:
            extra = {"best": int(run.best), "path": str(run.path)}
            writer.writerow([_csv_value({**run.row, **extra}.get(k)) for k in keys])


def study_lines(study: Study) -> list[str]:
    """A few lines describing an Optuna study's outcome."""
    if study.error:
        return [f"Optuna study in {study.root}: {study.error}"]
    params = ", ".join(f"{k}={v}" for k, v in study.best_params.items())
    value = "-" if study.best_value is None else f"{study.best_value:.4f}"
    lines = [f"Optuna study in {study.root}: best value {value} (validation accuracy when the "
             f"runs hold out a validation set, else training accuracy)",
             f"best parameters: {params}"]
    if study.best_run is not None:
        test = study.best_run.row.get("test_acc")
        test_text = "-" if test is None else f"{100 * test:.2f}%"
        lines.append(f"best run: {study.best_run.name} (test accuracy {test_text})")
    return lines


def write_markdown(path: Path, runs: list[Run], studies: list[Study], title: str,
                   columns: tuple[tuple[str, str], ...] = COLUMNS) -> None:
    """report.md: the same table in Markdown, and the Optuna studies' best parameters."""
    headers = [header for _, header in columns]
    lines = [f"# {title}", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for run in runs:
        lines.append("| " + " | ".join(cell(run, key).replace("|", "\\|") for key, _ in columns)
                     + " |")
    if any(run.best for run in runs):
        lines += ["", "`*` marks the best trial of an Optuna study."]
    for study in studies:
        lines += ["", *(f"- {line}" for line in study_lines(study))]
    lines += ["", *(f"- {line}" for line in failure_lines(runs))] if failure_lines(runs) else []
    path.write_text("\n".join(lines) + "\n")


def failure_lines(runs: list[Run]) -> list[str]:
    """Why each failed run failed, where that was recorded (e.g. by the SLURM launcher)."""
    return [f"{run.name} failed: {run.row['failure']}" for run in runs if run.row.get("failure")]


def plot(path: Path, runs: list[Run]) -> int:
    """report.png: every finished run's test accuracy and training loss per epoch, overlaid.

    Returns the number of runs drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from fcnn_cli.run_outputs import read_curves

    drawn = 0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for run in runs:
        if drawn >= MAX_CURVES or not run.curves_file.is_file():
            continue
        try:
            rows = read_curves(run.curves_file)
        except (OSError, ValueError, KeyError):
            continue
        rows = [r for r in rows if "epoch" in r and "test_acc" in r and "train_loss" in r]
        if not rows:
            continue
        label = f"{run.name}: {run.row['backend']} {run.row['struct']}" if len(runs) <= MAX_LEGEND else None
        epochs = [r["epoch"] for r in rows]
        top.plot(epochs, [100 * r["test_acc"] for r in rows], "o-", ms=3, label=label)
        bottom.plot(epochs, [r["train_loss"] for r in rows], "o-", ms=3, label=label)
        drawn += 1
    top.set_ylabel("test accuracy (%)")
    top.grid(alpha=0.3)
    bottom.set_ylabel("training loss (cross-entropy)")
    bottom.set_xlabel("epoch")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    if drawn:
        bottom.set_yscale("log")
    bottom.grid(alpha=0.3)
    if drawn and len(runs) <= MAX_LEGEND:
        top.legend(fontsize="small")
    fig.suptitle(f"{drawn} run{'s' if drawn != 1 else ''}: curve B (test accuracy) and "
                 "curve C (training loss)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def print_table(runs: list[Run], studies: list[Study], title: str,
                columns: tuple[tuple[str, str], ...] = COLUMNS) -> None:
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    styles = {"completed": "green", "diverged": "red", "failed": "red", "unfinished": "yellow"}
    # The dataset column only when the runs differ in it; the title names a common one.
    keys = [k for k, _ in columns if k != "dataset" or len({r.row["dataset"] for r in runs}) > 1]
    datasets = {r.row["dataset"] for r in runs if r.row["dataset"]}
    if "dataset" not in keys and datasets:
        title += f" (dataset {datasets.pop()})"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    headers = dict(columns)
    for key in keys:
        numeric = key in (*ACCURACIES, "lr", "annealing", "batch_size", "fit_seconds", "epochs")
        table.add_column(headers[key], justify="right" if numeric else "left")
    for run in runs:
        status = run.row["status"].split(", ")[0].split(" ")[-1]  # a group's "5 completed"
        cells = [cell(run, key) for key in keys]
        cells[-1] = f"[{styles.get(status, 'red')}]{cells[-1]}[/]"
        table.add_row(*cells, style="bold" if run.best else None)
    console = Console()
    if not console.is_terminal:
        # A pipe or a log file has no width to fit: print rows whole rather than folded at 80.
        needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
        console = Console(width=max(console.width, needed))
    console.print(table)
    if any(run.best for run in runs):
        console.print("* the best trial of an Optuna study", style="dim")
    if any(std_key(column) in run.row for run in runs for column in ACCURACIES):
        console.print("accuracies: mean ± standard deviation over the completed runs of each row (n)",
                      style="dim")
    for study in studies:
        for line in study_lines(study):
            console.print(line, markup=False, highlight=False)
    for line in failure_lines(runs):
        console.print(line, markup=False, highlight=False, style="red")


# --- the command --------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        fail(f"report: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fcnn report",
        description="Tabulate run directories (single runs and sweeps, searched recursively) and "
                    "write report.csv, report.md and report.png.",
    )
    parser.add_argument("dirs", nargs="*", metavar="DIR", type=Path,
                        help="run or sweep directories (default: outputs)")
    parser.add_argument("--sort", metavar="COLUMN", default="run",
                        help=f"column to sort by: {', '.join(COLUMN_KEYS)} (default: run); "
                             "accuracies sort best first, the rest ascending")
    parser.add_argument("--reverse", action="store_true", help="reverse the sort order")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where report.csv/.md/.png go (default: the first DIR)")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    parser.add_argument("--group-by", metavar="KEY",
                        help="fold runs that differ only in config KEY (e.g. seed) into one row: "
                             "accuracies as mean ± standard deviation over the completed runs")
    return parser


def grouped_columns(key: str) -> tuple[tuple[str, str], ...]:
    """The table's columns with --group-by KEY: KEY's values after the run names, n before status."""
    columns = [c for c in COLUMNS if c[0] != "status"]
    if key not in COLUMN_KEYS:
        columns.insert(1, (key, key))
    return (*columns, ("n", "n"), ("status", "status"))


def main(argv: list[str]) -> int:
    """`fcnn report [DIR ...] [--sort COLUMN] [--reverse] [--out DIR] [--group-by KEY]`."""
    args = _parser().parse_args(argv)
    directories: list[Path] = args.dirs or [Path("outputs")]
    for directory in directories:
        if not directory.is_dir():
            fail(f"report: {directory}: no such directory")
    if args.sort not in COLUMN_KEYS:
        fail(f"report: --sort: unknown column {args.sort!r}; choose one of {', '.join(COLUMN_KEYS)}")
    runs, studies = collect(directories)
    if not runs:
        fail(f"report: no run directories (with .hydra/config.yaml or metrics.json) under "
             f"{', '.join(str(d) for d in directories)}")
    runs = sort_runs(runs, args.sort, args.reverse)
    title = f"{len(runs)} run{'s' if len(runs) != 1 else ''} in " + ", ".join(
        str(d) for d in directories)
    rows, columns = runs, COLUMNS
    if args.group_by:
        from fcnn_cli.report_groups import fold, value_of

        if all(value_of(run, args.group_by) is None for run in runs):
            fail(f"report: --group-by: no run has a config key {args.group_by!r} "
                 f"(for example seed, lr, backend.name)")
        # Members listed in run order within a row; the rows in the order asked for.
        rows = sort_runs(fold(sort_runs(runs, "run"), args.group_by), args.sort, args.reverse)
        columns = grouped_columns(args.group_by)
        title += f", {len(rows)} row{'s' if len(rows) != 1 else ''} grouped by {args.group_by}"
    print_table(rows, studies, title, columns)

    out: Path = args.out or directories[0]
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "report.csv", rows, columns)
        write_markdown(out / "report.md", rows, studies, title, columns)
        written = ["report.csv", "report.md"]
        if not args.no_plot:
            plot(out / "report.png", runs)
            written.append("report.png")
    except OSError as err:
        fail(f"report: --out: cannot write to {out}: {err}")
    print(f"wrote {', '.join(written)} to {out}")
    return 0
