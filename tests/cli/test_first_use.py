"""What a new user types first, through the real CLI: a misspelled or foreign key, a +KEY that
would do nothing, a misspelled subcommand or column, a wrong data directory. Each is one line,
exit status 2, and nothing is written."""

from __future__ import annotations

import pytest
from helpers import DIGITS_FAST, NUMPY_FAST, assert_refused, run_fcnn

from fcnn_cli.commands import COMMANDS


@pytest.mark.parametrize("override, fragments", [
    ("learning_rate=0.1", ("learning_rate: no such setting", "did you mean lr?")),
    ("+learning_rate=0.5", ("learning_rate: no such setting", "did you mean lr?")),
    ("epochs=3", ("did you mean max_epochs?",)),
    ("hidden=[10]", ("did you mean struct?",)),
    ("+lr=0.5", ("lr: is a setting already", "without the +")),
])
def test_a_key_fcnn_does_not_read_is_refused_with_a_hint(tmp_path, override, fragments):
    result = run_fcnn("train", *NUMPY_FAST, override, f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert_refused(result, *fragments)
    assert "+learning_rate=VALUE" not in result.stderr  # the old advice that did nothing
    assert not (tmp_path / "run").exists() and not (tmp_path / "outputs").exists()


def test_a_sweep_with_an_unread_key_is_refused_before_any_job(tmp_path):
    result = run_fcnn("train", "-m", *NUMPY_FAST, "+learning_rate=0.1,0.5",
                      f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert_refused(result, "learning_rate", "did you mean lr?")
    assert not (tmp_path / "sweep").exists()


def test_tags_are_the_users_own_keys_and_are_kept(tmp_path):
    result = run_fcnn("train", *NUMPY_FAST, "max_epochs=1", "+tags.owner=ana",
                      f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "owner: ana" in (tmp_path / "run" / ".hydra" / "config.yaml").read_text()


def test_bench_refuses_a_misspelled_key_with_its_own_hint(tmp_path):
    result = run_fcnn("bench", "repeat=1", *DIGITS_FAST[:1], cwd=tmp_path)
    assert_refused(result, "repeat: no such setting", "did you mean repeats?")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_misspelled_subcommand_gets_did_you_mean(fcnn_here, command):
    typo = command[0] + command[2] + command[1] + command[3:]  # two letters swapped
    result = fcnn_here(typo)
    assert result.returncode == 2
    assert f"did you mean {command}?" in result.stderr and len(result.stderr.splitlines()) == 1


def test_report_sort_gets_did_you_mean(fcnn_here, tmp_path):
    result = fcnn_here("report", str(tmp_path), "--sort", "tst_acc")
    assert result.returncode == 2 and "did you mean test_acc?" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    ((), "data: name an action: fcnn data fetch"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
    (("info", "extra"), "unrecognized arguments: extra"),
    (("info", "--path", "/nonexistent/fcnn-data"),
     "data info: --path /nonexistent/fcnn-data: no such directory"),
])
def test_data_errors_are_one_line(fcnn_here, args, fragment):
    result = fcnn_here("data", *args)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("fcnn: error: ") and len(result.stderr.splitlines()) == 1
    assert fragment in result.stderr


def test_a_rate_annealed_to_nothing_is_one_warning_line(tmp_path):
    result = run_fcnn("train", *NUMPY_FAST, "max_epochs=140", "annealing=0.9", "plot=false",
                      f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "learning rate" in line]
    assert len(warned) == 1 and "after epoch 132 of 140" in warned[0], result.stderr
    assert warned[0].startswith("warning: LearningRateWarning: ")
