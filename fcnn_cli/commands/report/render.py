"""The report's table on the terminal, and report.csv and report.md, which keep every column."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.commands.report.cells import cell
from fcnn_cli.commands.report.collect import ACCURACIES, COLUMNS, OPTIONAL, Run, Study
from fcnn_cli.commands.report.columns import Choice, choose, every_column, header_lines, is_numeric
from fcnn_cli.commands.report.groups import AVERAGED, std_key
from fcnn_cli.runs.layout import FAILED


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


def terminal_width() -> int:
    """The width the table is laid out for: the terminal's; when the output is piped or
    redirected, $COLUMNS if set, else 80."""
    import os

    from rich.console import Console

    console = Console()
    if console.is_terminal:
        return console.width
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 80


def print_table(runs: list[Run], studies: list[Study], title: str,
                columns: tuple[tuple[str, str], ...] = COLUMNS, *, wide: bool = False,
                picked: list[str] | None = None, pinned: tuple[str, ...] = (),
                width: int | None = None) -> None:
    """The table on the terminal: the columns that fit `width` (default: terminal_width()), the
    settings all runs share in the title and a line naming the columns left out; `wide`: every
    column and no width limit; `picked`: exactly these columns, in this order."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    styles = {"completed": "green", "diverged": "red", "failed": "red", "unfinished": "yellow",
              "interrupted": "yellow"}
    width = terminal_width() if width is None else width
    if picked is not None:
        choice = every_column(runs, picked, columns)
    elif wide:
        choice = every_column(runs, shown_columns(runs, columns), columns)
    else:
        choice = choose(runs, width, columns, candidates=shown_columns(runs, columns),
                        pinned=pinned)
    if choice.shared:
        title += ": " + ", ".join(choice.shared)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    headers = dict(columns)
    numeric = {key: is_numeric(runs, key) for key in choice.keys}
    for key in choice.keys:
        # A header may wrap at its spaces ("train" over "%") and dots ("dropout." over "hidden");
        # a number never wraps.
        header = header_lines(headers[key], choice.widths[key])
        table.add_column(Text(header, no_wrap=False, overflow="fold"),
                         justify="right" if numeric[key] else "left", width=choice.widths[key],
                         overflow="fold")
    for run in runs:
        status = str(run.row.get("status")).split(", ")[0].split(" ")[-1]  # a group's "5 completed"
        cells = [Text(cell(run, key), style=styles.get(status, "red") if key == "status" else "",
                      no_wrap=numeric[key], overflow="fold")
                 for key in choice.keys]
        table.add_row(*cells, style="bold" if run.best else None)
    # Never narrower than the table (--wide, --columns, or pinned columns wider than the screen):
    # a row is printed whole rather than cut; with every column asked for, the title too.
    everything = wide or picked is not None
    console = Console(width=max(width, choice.width, len(title) if everything else 0))
    console.print(title, markup=False, highlight=False)
    console.print(table)
    _notes(console, runs, studies, choice, width)


def _notes(console: Any, runs: list[Run], studies: list[Study], choice: Choice, width: int) -> None:
    """The lines below the table: the columns left out, the best trial's mark, the failures, what
    a group's accuracies are, and the Optuna studies."""
    if choice.left_out:
        console.print(f"left out: {', '.join(choice.left_out)}; see them with --wide or "
                      f"--columns KEY,...", style="dim", markup=False, highlight=False)
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
