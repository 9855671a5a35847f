"""Bad input through the real CLI: one clear line naming the setting and what is allowed, exit
status 2, no traceback, and nothing already written is lost. Every bad setting's message, in
process: tests/unit/test_settings_validation.py; here, cases of each kind end to end."""

from __future__ import annotations

import pytest
from helpers import NUMPY_FAST, assert_refused, read_metrics, run_fcnn, write_idx_dir


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("struct=[500,-3]", ("struct[1]", "positive integers", "-3")),
        ("lr=0", ("lr", "> 0")),
        ("optimizer.momentum=1", ("optimizer.momentum", "[0, 1)", "1")),
        ("augment.elastic.alpha=-1", ("augment.elastic.alpha", ">= 0", "-1")),
        ("augment.elastic.sigma=0", ("augment.elastic.sigma", "> 0", "0")),
        ("augment.rotate=181", ("augment.rotate", "[0, 180]", "181")),
        ("threads=0", ("threads", "an integer from 1 to", "0")),
    ],
)
def test_bad_setting(tmp_path, override, fragments):
    result = run_fcnn("train", *NUMPY_FAST, override, f"hydra.run.dir={tmp_path}")
    assert_refused(result, f"fcnn: error: {fragments[0]}", *fragments)
    assert not (tmp_path / "metrics.json").exists()


def test_bad_adam_setting(tmp_path):
    result = run_fcnn("train", *NUMPY_FAST, "optimizer=adam", "optimizer.beta1=1",
                      f"hydra.run.dir={tmp_path}")
    assert_refused(result, "fcnn: error: optimizer.beta1", "[0, 1)", "1.0")
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        # found once the data is loaded: after Hydra made the run directory
        (("dataset.classes=[3,10]",), ("dataset.classes", "digits has no class 10", "0..9")),
        (("task=logreg", "struct=[10]"), ("struct", "task=logreg", "[]")),
    ],
)
def test_bad_task_settings(tmp_path, overrides, fragments):
    result = run_fcnn("train", "backend=numpy", "dataset=digits", "progress=false", "max_epochs=1",
                      *overrides, f"hydra.run.dir={tmp_path}")
    assert_refused(result, f"fcnn: error: {fragments[0]}", *fragments)
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    ("group", "choice", "listed"), [("backend", "torch", "numpy"), ("dataset", "cifar", "digits")]
)
def test_unknown_group_choice_lists_the_choices(group, choice, listed):
    """Hydra's own error, in fcnn's form: one line, the group and its options, exit status 2."""
    result = run_fcnn("train", f"{group}={choice}")
    assert_refused(result, f"{group}: no option '{choice}'", "choose one of", listed)


@pytest.mark.parametrize(("pieces", "key", "whole"), [
    (("struct=[500", "250]"), "struct", "struct=[500,250]"),  # what `struct=[500 250]` arrives as
    (("struct=[500,", "250]"), "struct", "struct=[500,250]"),
    (("dataset.classes=[3,", "8]"), "dataset.classes", "dataset.classes=[3,8]"),
])
def test_a_list_the_shell_cut_at_a_space_says_how_to_write_it(tmp_path, pieces, key, whole):
    result = run_fcnn("train", *NUMPY_FAST, *pieces, f"hydra.run.dir={tmp_path}")
    assert_refused(result, f"fcnn: error: {key}: the shell cut '{' '.join(pieces)}' at its spaces",
                   f"write it with commas and no spaces: {whole}")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("override", ["hydra.sweeper.n_trials=0", "hydra.sweeper.n_jobs=0"])
def test_a_search_of_no_trials_is_one_line_and_leaves_nothing(tmp_path, override):
    # n_trials=0 was Optuna's "ValueError: Record does not exist" after an empty search
    sweep = tmp_path / "search"
    result = run_fcnn("train", "hparams_search=optuna", *NUMPY_FAST, override,
                      f"hydra.sweep.dir={sweep}")
    key = override.split("=")[0]
    assert_refused(result, f"fcnn: error: {key}: must be an integer >= 1, got 0")
    assert not sweep.exists()


def test_a_flag_after_the_overrides_still_sweeps(tmp_path):
    # `fcnn train dataset=digits -m lr=...` was argparse's "unrecognized arguments" and its usage
    sweep = tmp_path / "sweep"
    result = run_fcnn("train", *NUMPY_FAST, "-m", "lr=0.1,0.2", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    assert "sweep: 2 jobs, 2 completed" in result.stdout
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1"]


@pytest.mark.parametrize(("args", "fragments"), [
    (("train", "--multrun", "lr=0.1"), ("unrecognized arguments: --multrun", "--hydra-help")),
    (("train", "--cfg", "jobs"), ("argument --cfg/-c: invalid choice: 'jobs'", "'job'")),
    (("bench", "-m", "dataset=digits"), ("-m: fcnn bench", "does not sweep")),
])
def test_a_bad_flag_is_one_line(tmp_path, args, fragments):
    result = run_fcnn(*args, cwd=tmp_path)
    assert_refused(result, *fragments)
    assert not any(tmp_path.iterdir())


def test_unknown_command():
    assert_refused(run_fcnn("trian"), "unknown command", "train")


def test_corrupt_idx_file(tmp_path):
    data_dir = tmp_path / "idx"
    write_idx_dir(data_dir, corrupt=("magic", "train-images-idx3-ubyte"))
    result = run_fcnn("train", "dataset=mnist", f"dataset.path={data_dir}", "progress=false",
                      f"hydra.run.dir={tmp_path / 'r'}", env={"FCNN_DATA_DIR": str(tmp_path / "cache")})
    assert_refused(result, "dataset.path", "corrupt IDX file", "train-images-idx3-ubyte",
                   "magic number 2052, expected 2051")
    assert not (tmp_path / "r").exists()


def test_existing_run_directory_is_never_overwritten(tmp_path):
    first = run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    second = run_fcnn("train", *NUMPY_FAST, "seed=9", f"hydra.run.dir={tmp_path}")
    assert_refused(second, "hydra.run.dir", "already holds a finished run")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert read_metrics(tmp_path)["seed"] == 1
