"""Tab completion's answers, in process (fcnn_cli.commands.completion.query): the commands, their
flags and choices, and the lines left to Hydra. The scripts in real shells:
tests/cli/test_completion.py."""

from __future__ import annotations

import pytest

from fcnn_cli import commands
from fcnn_cli.commands import completion
from fcnn_cli.commands.report import collect

COMMANDS = [*commands.hydra_apps(), *commands.plain_commands()]


@pytest.mark.parametrize(("line", "expected"), [
    ("fcnn ", COMMANDS),
    ("fcnn -", ["--help", "--version"]),
    ("fcnn completion ", ["bash", "zsh", "fish"]),
    ("fcnn data fetch --", ["--help", "--path", "--force"]),
    ("fcnn data fetch -", ["-h", "--help", "--path", "--force"]),
    ("fcnn data fetch --path ", []),  # a path: the shell completes file names
    ("fcnn report ", []),
    ("fcnn report --out x --sort ", list(collect.COLUMN_KEYS)),
    ("fcnn train --cfg ", ["job", "hydra", "all"]),  # from Hydra's own argument parser
    ("fcnn nosuch ", []),
])
def test_query_without_hydra_overrides(line, expected):
    assert completion.query(line) == expected


def test_query_leaves_overrides_to_hydra():
    assert completion.query("fcnn train back") is None
    assert completion.query("fcnn bench -m lr=") is None
    assert completion.hydra_line("fcnn train -m back") == "fcnn -m back"
    assert completion.hydra_line(".venv/bin/fcnn bench ") == "fcnn "


def test_tab_completion_knows_evaluate_and_predict():
    assert {"evaluate", "predict"} <= set(completion.query("fcnn "))
    assert completion.query("fcnn evaluate run --split ") == ["test", "train", "val"]
    assert completion.query("fcnn evaluate run --dataset d") == ["digits"]
    assert completion.query("fcnn evaluate --") == ["--help", "--split", "--dataset", "--classes",
                                                    "--out"]
    assert completion.query("fcnn predict run ") == []  # INPUT: the shell completes file names
    assert completion.query("fcnn predict run x.npy --") == ["--help", "--out", "--invert", "--resize"]
