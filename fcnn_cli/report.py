"""`fcnn report`: one table over many runs (single runs and sweeps), with files to keep.

A run directory is any directory holding `.hydra/config.yaml` (or a `metrics.json`); its
`metrics.json`, written last by `fcnn train`, marks it ended (see `fcnn_cli.runs`); a run stopped
by a signal says `interrupted` there (it can be resumed). A run without one is shown as
unfinished (still running, killed or crashed); one whose metrics cannot be
read, or that a sweep recorded as failed (refused, raised, killed), as failed, with its reason:
the report never stops at a bad run. A sweep root holding Optuna's `optimization_results.yaml`
also gets the study's best parameters and value, and the run that produced them.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.errors import fail
from fcnn_cli.report_groups import AVERAGED, std_key
from fcnn_cli.runs import FAILED, RunDir, find_runs, natural_key

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
    ("status", "status"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
# Shown only when some run has them: the task when not every run is a classifier, a probe's
# accuracies when some run has a probe.
OPTIONAL = ("task", "probe_val_acc", "probe_test_acc")
# Shown in percent, and sorted best first (descending) unless --reverse; the rest ascending.
ACCURACIES = ("train_acc", "val_acc", "test_acc", "probe_val_acc", "probe_test_acc")
# "ep to 99%": the first epoch whose training accuracy (curve A) reaches this.
TRAIN_ACC_TARGET = 0.99
OPTUNA_RESULTS = "optimization_results.yaml"
# report.png names every run in its legend up to MAX_LEGEND runs; beyond that it draws and
# names the best LEGEND_BEST by final test accuracy, and folds the others into one shaded band.
MAX_LEGEND = 10
LEGEND_BEST = 5


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


# --- finding and reading runs -------------------------------------------------------------------

def find_studies(directory: Path) -> list[Path]:
    """Every Optuna sweep root at or below `directory`."""
    return sorted((p.parent for p in directory.rglob(OPTUNA_RESULTS)), key=natural_key)


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
    run_dir = RunDir(path)
    # A missing or damaged file leaves blanks in the row, never a crash.
    config = run_dir.read_config()
    run.overrides = run_dir.read_overrides()
    status = run_dir.status()
    source = run_dir.read_metrics() or {}
    if isinstance(config, dict):
        from fcnn_cli.run_outputs import flat_config

        run.config = flat_config(config)  # for --group-by
    struct = source.get("struct", config.get("struct") if isinstance(config, dict) else None)
    epochs = source.get("epochs_completed")
    fit_seconds = _number(source.get("fit_seconds"))
    optimizer = _get(config, "optimizer")
    run.row = {
        "backend": source.get("backend") or _get(config, "backend", "name"),
        "task": source.get("task") or _get(config, "task", "name"),
        "dataset": source.get("dataset") or _get(config, "dataset", "name"),
        "struct": _struct_text(struct),
        "optimizer": _optimizer_text(optimizer, source.get("optimizer")),
        "lr": _number(source.get("lr", _get(config, "lr"))),
        "annealing": _number(source.get("annealing", _get(config, "annealing"))),
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
        "status": status,
        "error": run_dir.failure() if status == FAILED else None,
        "seed": source.get("seed", _get(config, "seed")),  # for --group-by seed
    }
    return run


def _optimizer_text(config: Any, name: Any) -> Any:
    """The optimizer as `optim.describe` names it, from a run's config; its name as a fallback."""
    from fcnn_cli.optim import describe

    try:
        return describe(config) if isinstance(config, dict) else name
    except (TypeError, ValueError):  # a hand-edited config with odd values
        return name or config.get("name")


def epochs_to(curves_file: Path, column: str, target: float) -> int | None:
    """The first epoch in `curves_file` whose `column` reaches `target`; None if none does."""
    from fcnn_cli.run_outputs import read_curves

    try:
        rows = read_curves(curves_file)
    except (OSError, ValueError, KeyError):
        return None
    for row in rows:
        if row.get(column, -math.inf) >= target and "epoch" in row:
            return int(row["epoch"])
    return None


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
    if key in ("lr", "annealing", "train_loss") and isinstance(value, float):
        return f"{value:.4g}"
    if key in ("fit_seconds", "s_per_epoch"):
        return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 10 else f"{value:.1f}"
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
    keys += ["max_epochs", "best", "error", "path"]
    with atomic.atomic_open(path, "w", newline="") as f:
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
    lines = [f"Optuna study in {study.root}: best value {value} (the runs' objective: "
             f"validation accuracy, or the probe's with objective=probe_val_acc, when they hold "
             f"out a validation set; else the same on the training set)",
             f"best parameters: {params}"]
    if study.best_run is not None:
        row = study.best_run.row
        test = row.get("test_acc")
        test_text = f"test accuracy {'-' if test is None else f'{100 * test:.2f}%'}"
        if row.get("probe_test_acc") is not None:
            test_text += f", probe test accuracy {100 * row['probe_test_acc']:.2f}%"
        lines.append(f"best run: {study.best_run.name} ({test_text})")
    return lines


def shown_columns(runs: list[Run], columns: tuple[tuple[str, str], ...] = COLUMNS) -> list[str]:
    """The columns of the printed and Markdown tables: OPTIONAL ones only when they say something."""
    def says_something(key: str) -> bool:
        if key == "task":
            return any(run.row.get("task") not in (None, "classify") for run in runs)
        return any(run.row.get(key) is not None for run in runs)

    return [key for key, _ in columns if key not in OPTIONAL or says_something(key)]


def failure_lines(runs: list[Run]) -> list[str]:
    """One line per failed run: its name and why it failed."""
    return [f"{run.name}: {run.row['error']}" for run in runs
            if run.row.get("status") == FAILED and run.row.get("error")]


def write_markdown(path: Path, runs: list[Run], studies: list[Study], title: str,
                   columns: tuple[tuple[str, str], ...] = COLUMNS) -> None:
    """report.md: the same table in Markdown, and the Optuna studies' best parameters."""
    keys = shown_columns(runs, columns)
    headers = [dict(columns)[key] for key in keys]
    lines = [f"# {title}", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for run in runs:
        lines.append("| " + " | ".join(cell(run, key).replace("|", "\\|") for key in keys)
                     + " |")
    if any(run.best for run in runs):
        lines += ["", "`*` marks the best trial of an Optuna study."]
    failures = failure_lines(runs)
    if failures:
        lines += ["", "Failed runs:", "", *(f"- {line}" for line in failures)]
    for study in studies:
        lines += ["", *(f"- {line}" for line in study_lines(study))]
    atomic.write_text(path, "\n".join(lines) + "\n")


def _curve_rows(run: Run) -> list[dict[str, float]]:
    """The epochs of a run's curves.csv that have curve C (and B, for a task with accuracy);
    [] when unreadable."""
    from fcnn_cli.run_outputs import read_curves

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


def print_table(runs: list[Run], studies: list[Study], title: str,
                columns: tuple[tuple[str, str], ...] = COLUMNS) -> None:
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    styles = {"completed": "green", "diverged": "red", "failed": "red", "unfinished": "yellow",
              "interrupted": "yellow"}
    # The dataset column only when the runs differ in it; the title names a common one.
    keys = [k for k in shown_columns(runs, columns)
            if k != "dataset" or len({r.row["dataset"] for r in runs}) > 1]
    datasets = {r.row["dataset"] for r in runs if r.row["dataset"]}
    if "dataset" not in keys and datasets:
        title += f" (dataset {datasets.pop()})"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    headers = dict(columns)
    for key in keys:
        numeric = key in (*ACCURACIES, "lr", "annealing", "batch_size", "fit_seconds", "epochs",
                          "train_loss", "epochs_to_99", "s_per_epoch")
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
    failures = failure_lines(runs)
    if failures:
        console.print(f"{len(failures)} failed:", style="red")
        for line in failures:
            console.print(f"  {line}", markup=False, highlight=False)
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
