"""`fcnn report`'s table in a given width, in process: which columns `columns.choose` keeps, what
goes to the title, and the printed table at every width from 30 to 200 (no line too long, no
number cut, no ellipsis). The real CLI at 80 and 160 columns: tests/cli/test_report_width.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fcnn_cli.commands.report import grouped_columns
from fcnn_cli.commands.report.cells import cell
from fcnn_cli.commands.report.collect import COLUMN_KEYS, COLUMNS, Run
from fcnn_cli.commands.report.columns import NUMERIC, choose, every_column, table_width
from fcnn_cli.commands.report.groups import fold
from fcnn_cli.commands.report.render import print_table, shown_columns


def _run(name: str, **row) -> Run:
    base = {"run": name, "backend": "numpy", "task": "classify", "dataset": "digits",
            "struct": "[16]", "optimizer": "sgd", "lr": 0.1, "annealing": 0.9, "batch_size": 50,
            "epochs": 2, "max_epochs": 2, "train_acc": 0.5254, "val_acc": None,
            "test_acc": 0.5083, "train_loss": 1.669, "epochs_to_99": None,
            "probe_val_acc": None, "probe_test_acc": None, "fit_seconds": 0.019,
            "s_per_epoch": 0.0095, "status": "completed", "error": None, "seed": 1}
    return Run(Path(name), name=name, row={**base, **row},
               config={"lr": row.get("lr", 0.1), "seed": row.get("seed", 1),
                       "batch_size": row.get("batch_size", 50)})


def _sweep() -> list[Run]:
    """Four runs over lr and struct, one diverged: the rest of the settings shared."""
    return [_run("0", lr=0.1, test_acc=0.5083), _run("1", lr=0.2, test_acc=0.7778),
            _run("2", lr=0.1, struct="[32, 16]", test_acc=0.9361),
            _run("3", lr=5.0, struct="[32, 16]", test_acc=0.1, status="diverged", epochs=1)]


def _choose(runs, width, columns=COLUMNS, pinned=()):
    return choose(runs, width, columns, candidates=shown_columns(runs, columns), pinned=pinned)


def test_shared_settings_go_to_the_title_and_differing_ones_are_columns():
    choice = _choose(_sweep(), 80)
    assert choice.shared == ["backend numpy", "dataset digits", "sgd", "anneal 0.9", "batch 50"]
    for key in ("run", "struct", "lr", "epochs", "test_acc", "status"):
        assert key in choice.keys
    for key in ("backend", "dataset", "optimizer", "annealing", "batch_size", "task"):
        assert key not in choice.keys and key not in choice.left_out
    # In the table's own order, the status last.
    assert choice.keys == [k for k in COLUMN_KEYS if k in choice.keys]
    assert choice.width <= 80


def test_narrow_keeps_the_status_accuracies_and_differences_first():
    runs = _sweep()
    for width in (30, 40, 50, 60):
        choice = _choose(runs, width)
        assert choice.width <= width, width
        assert {"run", "status", "test_acc"} <= set(choice.keys), width
    narrow = _choose(runs, 40)
    assert narrow.left_out, "something had to go at 40 columns"
    # What went is named, once, in the table's order; nothing shown is named.
    assert not set(narrow.left_out) & set(narrow.keys)
    assert narrow.left_out == [k for k in COLUMN_KEYS if k in narrow.left_out]
    # The settings that differ come before the other measurements.
    wider = _choose(runs, 60)
    assert {"lr", "struct"} <= set(wider.keys) and "s_per_epoch" in wider.left_out


def test_a_number_is_never_narrower_than_itself():
    runs = _sweep()
    for width in range(20, 160, 7):
        choice = _choose(runs, width)
        for key in choice.keys:
            cells = [cell(run, key) for run in runs]
            if key in NUMERIC or key == "status":
                assert choice.widths[key] >= max(map(len, cells)), (width, key)


def test_sorted_and_grouped_columns_are_always_shown():
    runs = _sweep()
    choice = _choose(runs, 30, pinned=("fit_seconds",))
    assert "fit_seconds" in choice.keys and "run" in choice.keys
    # A pinned setting stays a column even when every run shares it.
    assert "batch_size" in _choose(runs, 80, pinned=("batch_size",)).keys
    rows = fold(runs, "seed")
    columns = grouped_columns("seed")
    grouped = _choose(rows, 40, columns, pinned=("run", "seed"))
    assert {"run", "seed", "status"} <= set(grouped.keys)


def test_a_column_without_values_comes_last_and_only_unwrapped():
    runs = _sweep()  # no validation set, no run reached 99%
    roomy = _choose(runs, 200)
    assert "val_acc" in roomy.keys and roomy.widths["val_acc"] == len("val %")
    assert "epochs_to_99" in roomy.keys and roomy.widths["epochs_to_99"] == len("ep to 99%")
    tight = _choose(runs, 60)
    assert "epochs_to_99" in tight.left_out


def test_one_run_puts_every_setting_in_the_title():
    choice = _choose([_run("single")], 80)
    assert "epochs 2/2" in choice.shared and "struct [16]" in choice.shared
    assert [k for k in choice.keys if k in ("lr", "struct", "backend")] == []
    assert {"run", "test_acc", "status"} <= set(choice.keys)


def test_every_column_keeps_the_order_asked_for():
    runs = _sweep()
    choice = every_column(runs, ["test_acc", "run", "lr"], COLUMNS, cell)
    assert choice.keys == ["test_acc", "run", "lr"] and not choice.left_out
    assert choice.widths == {"test_acc": len("test %"), "run": len("run"), "lr": len("0.1")}
    assert choice.width == table_width([6, 3, 3])


@pytest.mark.parametrize("width", [30, 40, 52, 64, 80, 100, 120, 160, 200])
def test_the_printed_table_fits_and_cuts_no_number(capsys, width):
    runs = _sweep()
    print_table(runs, [], "4 runs in /tmp/sweep", COLUMNS, width=width)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    assert "…" not in out
    for run in runs:  # every test accuracy, whole
        assert re.search(rf"(?<![\d.]){100 * run.row['test_acc']:.2f}(?![\d.])", out), out
    words = " ".join(out.split())  # the title and the notes wrap at the width
    assert "dataset digits" in words and "batch 50" in words
    choice = _choose(runs, width)
    if choice.left_out:
        assert f"left out: {', '.join(choice.left_out)}" in words
        assert "--wide" in out


def test_wide_prints_every_column_past_the_width(capsys):
    runs = _sweep()
    print_table(runs, [], "4 runs", COLUMNS, wide=True, width=40)
    out = capsys.readouterr().out
    header = out.splitlines()[1]
    for key in shown_columns(runs, COLUMNS):
        assert dict(COLUMNS)[key] in header, key
    assert "left out" not in out and max(map(len, out.splitlines())) > 100
