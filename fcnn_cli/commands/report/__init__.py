"""`fcnn report`: one table over many runs (single runs and sweeps), with files to keep.

A run directory is any directory holding `.hydra/config.yaml` (or a `metrics.json`); its
`metrics.json`, written last by `fcnn train`, marks it ended (see `fcnn_cli.runs.layout`); a run stopped
by a signal says `interrupted` there (it can be resumed). A run without one is shown as
unfinished (still running, killed or crashed); one whose metrics cannot be
read, or that a sweep recorded as failed (refused, raised, killed), as failed, with its reason:
the report never stops at a bad run. A sweep root holding Optuna's `optimization_results.yaml`
also gets the study's best parameters and value, and the run that produced them. Besides the
fixed columns, every config key the runs differ in (`dropout.hidden`) gets a column (swept.py).
The directories `fcnn bench` wrote are no runs: they are counted in one line, not tabulated.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from fcnn_cli.commands._argparse import Parser
from fcnn_cli.commands.report.collect import COLUMN_KEYS, COLUMNS, Run, collect_runs, sort_runs
from fcnn_cli.commands.report.figure import plot
from fcnn_cli.commands.report.groups import fold, value_of
from fcnn_cli.commands.report.render import print_table, write_csv, write_markdown
from fcnn_cli.commands.report.swept import (
    fill_rows,
    setting_keys,
    shown_keys,
    swept_keys,
    with_setting_columns,
)
from fcnn_cli.errors import UsageError, did_you_mean


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fcnn report",
        description="Tabulate run directories (single runs and sweeps, searched recursively) and "
                    "write report.csv, report.md and report.png.",
    )
    parser.add_argument("dirs", nargs="*", metavar="DIR", type=Path,
                        help="run or sweep directories (default: outputs)")
    parser.add_argument("--sort", metavar="COLUMN", default="run",
                        help=f"column to sort by: {', '.join(COLUMN_KEYS)}, or a config key "
                             "such as dropout.hidden (default: run); accuracies sort best first, "
                             "the rest ascending")
    parser.add_argument("--reverse", action="store_true", help="reverse the sort order")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where report.csv/.md/.png go (default: the first DIR)")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png")
    parser.add_argument("--group-by", metavar="KEY",
                        help="fold runs that differ only in config KEY (e.g. seed) into one row: "
                             "accuracies as mean ± standard deviation over the completed runs")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--wide", action="store_true",
                       help="every column, whatever the terminal's width (for a file or a pager); "
                            "by default the table keeps to the terminal's width ($COLUMNS or 80 "
                            "when piped): shared settings go to the title, columns that do not "
                            "fit are left out and named")
    shown.add_argument("--columns", metavar="KEY,...",
                       help="exactly these columns, in this order (names as for --sort)")
    return parser


def grouped_columns(key: str) -> tuple[tuple[str, str], ...]:
    """The table's columns with --group-by KEY: KEY's values after the run names, n before status."""
    columns = [c for c in COLUMNS if c[0] != "status"]
    if key not in COLUMN_KEYS:
        columns.insert(1, (key, key))
    return (*columns, ("n", "n"), ("status", "status"))


def allowed_text(keys: Sequence[str], config_keys: Sequence[str], swept: Sequence[str]) -> str:
    """What --sort and --columns accept, for an error line: the table's columns and, when the runs
    have a config, its keys (naming those the runs differ in; listing every one would bury the
    line)."""
    if not config_keys:
        return ", ".join(keys)
    differing = f" (the runs differ in {', '.join(swept)})" if swept else ""
    return f"{', '.join(keys)}, or a config key{differing}"


def checked_name(option: str, name: str, keys: Sequence[str], config_keys: Sequence[str],
                 swept: Sequence[str], choose: str = "choose one of") -> str:
    """`name` when it names a column of `keys` or a config key; else the command ends in one line,
    with the name most like it and what is allowed."""
    if name not in keys and name not in config_keys:
        raise UsageError.line(f"report: {option}: unknown column {name!r}; "
             f"{did_you_mean(name, [*keys, *config_keys])}"
             f"{choose} {allowed_text(keys, config_keys, swept)}")
    return name


def picked_columns(text: str, columns: tuple[tuple[str, str], ...],
                   config_keys: Sequence[str] = (), swept: Sequence[str] = ()) -> list[str]:
    """--columns a,b,c as keys of `columns` or config keys; an unknown name ends the command in
    one line."""
    keys = [key for key, _ in columns]
    picked = [name.strip() for name in text.split(",") if name.strip()]
    if not picked:
        raise UsageError.line(f"report: --columns: no column named; choose from "
             f"{allowed_text(keys, config_keys, swept)}")
    return [checked_name("--columns", name, keys, config_keys, swept, "choose from")
            for name in picked]


def table_columns(args: argparse.Namespace,
                  runs: list[Run]) -> tuple[tuple[tuple[str, str], ...], list[str] | None]:
    """The report's columns for `runs` and --columns's choice among them: the fixed columns (and
    --group-by's), and one per config key the runs differ in or --sort or --columns names, its
    values put in each run's row. A wrong name ends the command in one line: which names are
    right depends on the runs' configs."""
    config_keys, swept = setting_keys(runs), swept_keys(runs)
    checked_name("--sort", args.sort, COLUMN_KEYS, config_keys, swept)
    fixed = grouped_columns(args.group_by) if args.group_by else COLUMNS
    picked = (None if args.columns is None
              else picked_columns(args.columns, fixed, config_keys, swept))
    settings = shown_keys(runs, [args.sort, *(picked or [])], args.group_by)
    fill_rows(runs, settings)
    return with_setting_columns(fixed, settings), picked


def benches_text(benches: Sequence[Path]) -> str:
    """The line saying which `fcnn bench` directories the report left out, and where their
    results are."""
    where = str(benches[0]) if len(benches) == 1 else f"{benches[0]}, ..."
    return (f"left out {len(benches)} `fcnn bench` director{'y' if len(benches) == 1 else 'ies'} "
            f"({where}): a bench's results are in its bench.md")


def main(argv: list[str]) -> int:
    """`fcnn report [DIR ...] [--sort COLUMN] [--reverse] [--out DIR] [--group-by KEY]
    [--wide | --columns KEY,...]`."""
    args = build_parser().parse_args(argv)
    directories: list[Path] = args.dirs or [Path("outputs")]
    for directory in directories:
        if not directory.is_dir():
            raise UsageError.line(f"report: {directory}: no such directory")
    benches: list[Path] = []
    runs, studies = collect_runs(directories, benches)
    # A wrong --sort or --columns name is refused before an empty directory is.
    columns, picked = table_columns(args, runs)
    if not runs:
        raise UsageError.line(f"report: no run directories (with .hydra/config.yaml or metrics.json) under "
             f"{', '.join(str(d) for d in directories)}{'; ' + benches_text(benches) if benches else ''}")
    runs = sort_runs(runs, args.sort, args.reverse)
    title = f"{len(runs)} run{'s' if len(runs) != 1 else ''} in " + ", ".join(
        str(d) for d in directories)
    rows = runs
    if args.group_by:
        if all(value_of(run, args.group_by) is None for run in runs):
            raise UsageError.line(f"report: --group-by: no run has a config key {args.group_by!r} "
                 f"(for example seed, lr, backend.name)")
        # Members listed in run order within a row; the rows in the order asked for.
        rows = sort_runs(fold(sort_runs(runs, "run"), args.group_by), args.sort, args.reverse)
        title += f", {len(rows)} row{'s' if len(rows) != 1 else ''} grouped by {args.group_by}"
    pinned = tuple(k for k in (args.sort, args.group_by) if k)
    print_table(rows, studies, title, columns, wide=args.wide, picked=picked, pinned=pinned)
    if benches:
        print(benches_text(benches))

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
        raise UsageError.line(f"report: --out: cannot write to {out}: {err}") from None
    print(f"wrote {', '.join(written)} to {out}")
    return 0
