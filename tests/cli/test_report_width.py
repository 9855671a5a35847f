"""`fcnn report` through the real CLI, piped, at 80 and 160 columns ($COLUMNS): every line fits, no
ellipsis, every test accuracy whole, the settings all runs share in the title; --wide shows every
column, --columns picks, an unknown column is refused in one line. The column choice in process:
tests/unit/test_report_columns.py."""

from __future__ import annotations

import csv
import json
import re

import pytest
from helpers import assert_refused, run_fcnn

from fcnn_cli.commands.report.collect import COLUMN_KEYS

# Every column header a digits sweep's table has (the probe and task columns only with probes
# or other tasks).
HEADERS = ("run", "backend", "data", "struct", "opt", "lr", "anneal", "batch", "epochs", "train %",
           "val %", "test %", "loss", "ep to 99%", "fit s", "s/epoch", "status")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("width") / "sweep"
    result = run_fcnn("train", "-m", "dataset=digits", "backend=numpy", "struct=[16]",
                      "max_epochs=2", "progress=false", "plot=false", "lr=0.1,0.2",
                      f"hydra.sweep.dir={root}")
    assert result.returncode == 0, result.stderr
    return root


def _report(sweep, *args, columns="80"):
    result = run_fcnn("report", str(sweep), "--no-plot", *args, env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    return result.stdout


def _lines(out: str) -> list[str]:
    """The printed lines but the last, which names where the files went (a path, as long as
    it is)."""
    return [line for line in out.splitlines() if not line.startswith("wrote ")]


def _header(out: str) -> list[str]:
    """The table's header cells: the line above the rule, split at runs of two spaces."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("──"))
    return [h for h in re.split(r"\s{2,}", lines[rule - 1].strip()) if h]


@pytest.mark.parametrize("width", [80, 160])
def test_the_table_fits_the_width_and_cuts_nothing(sweep, width):
    out = _report(sweep, columns=str(width))
    lines = _lines(out)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    assert "…" not in out
    for run in ("0", "1"):
        metrics = json.loads((sweep / run / "metrics.json").read_text())
        assert re.search(rf"(?<![\d.]){100 * metrics['test_acc']:.2f}(?![\d.])", out), out
    # What every run shares is said once, in the title (which may wrap), not in a column.
    title = " ".join(" ".join(lines[:2]).split())
    for shared in ("backend numpy", "dataset digits", "struct [16]", "sgd", "batch 50",
                   "epochs 2/2"):
        assert shared in title, title
    header = _header(out)
    assert {"run", "lr", "test %", "status"} <= set(header)
    assert not {"backend", "data", "struct", "opt", "batch"} & set(header)


def test_a_narrow_terminal_names_what_it_left_out(sweep):
    out = _report(sweep, columns="40")
    lines = _lines(out)
    assert all(len(line) <= 40 for line in lines), "\n".join(lines)
    assert "…" not in out and {"run", "test %", "status"} <= set(_header(out))
    words = " ".join(out.split())
    assert "left out:" in words and "see them with --wide or --columns KEY,..." in words
    # The files keep every column whatever the terminal.
    with open(sweep / "report.csv", newline="") as f:
        assert set(COLUMN_KEYS) <= set(next(csv.reader(f)))
    md = (sweep / "report.md").read_text()
    for header in HEADERS:
        assert f"| {header} |" in md or f"| {header} " in md, header


def test_the_sorted_column_is_always_shown(sweep):
    out = _report(sweep, "--sort", "fit_seconds", columns="40")
    assert "fit s" in _header(out)


def test_wide_shows_every_column(sweep):
    out = _report(sweep, "--wide", columns="80")
    assert _header(out) == list(HEADERS)
    assert max(len(line) for line in out.splitlines()) > 80
    assert "left out" not in out and "…" not in out


def test_columns_picks_exactly_these_in_this_order(sweep):
    out = _report(sweep, "--columns", "test_acc,run,backend", columns="80")
    assert _header(out) == ["test %", "run", "backend"]
    assert "left out" not in out


@pytest.mark.parametrize(("args", "fragments"), [
    (["--columns", "run,tst_acc"], ("--columns: unknown column 'tst_acc'", "did you mean test_acc?")),
    (["--columns", "run", "--wide"], ("not allowed with argument",)),
])
def test_a_bad_column_choice_is_one_line_exit_2(sweep, args, fragments):
    result = run_fcnn("report", str(sweep), "--no-plot", *args)
    assert_refused(result, "fcnn: error: report:", *fragments)
