"""The report's table on the terminal, and report.csv and report.md, which keep every column."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.commands.report.collect import ACCURACIES, COLUMNS, OPTIONAL, Run, Study
from fcnn_cli.commands.report.groups import AVERAGED, std_key
from fcnn_cli.runs.layout import FAILED


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
