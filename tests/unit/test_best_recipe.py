"""scripts/best_recipe.py in process, on a search directory laid out as fcnn's Optuna sweeper
leaves it: the best trial (the first of equal ones), `--only` among trials with a setting,
`--epochs` with its provenance line, and one-line refusals. End to end: tests/cli/test_make_best.py."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml
from helpers import REPO

spec = importlib.util.spec_from_file_location("best_recipe", REPO / "scripts" / "best_recipe.py")
best_recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(best_recipe)


def _trial(search, number, val_acc, shift, lr):
    trial = search / str(number)
    (trial / ".hydra").mkdir(parents=True)
    config = {"backend": {"name": "jax"}, "dataset": {"name": "mnist"},
              "optimizer": {"name": "sgd", "momentum": 0.9}, "struct": [1024, 1024], "lr": lr,
              "max_epochs": 20, "val_fraction": 0.1, "augment": {"shift": shift}}
    (trial / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (trial / "metrics.json").write_text(json.dumps({"objective_value": val_acc,
                                                    "val_acc": val_acc}))


@pytest.fixture
def search(tmp_path):
    search = tmp_path / "search"
    _trial(search, 0, 0.985, 0, 0.1)
    _trial(search, 1, 0.990, 1, 0.2)
    _trial(search, 2, 0.988, 0, 0.3)
    _trial(search, 3, 0.990, 2, 0.4)  # equal to trial 1: the first wins
    (search / "optimization_results.yaml").write_text(yaml.safe_dump(
        {"best_value": 0.990, "best_params": {"lr": 0.2}}))
    return search


def test_the_best_trial_and_the_best_with_a_setting(search):
    assert best_recipe.best_trial(search)[0].name == "1"
    assert best_recipe.best_trial(search, {"augment.shift": 0})[0].name == "2"
    assert best_recipe.best_trial(search, {"augment.shift": 2, "lr": 0.4})[0].name == "3"
    with pytest.raises(SystemExit, match="no completed trial with augment.shift=5"):
        best_recipe.best_trial(search, {"augment.shift": 5})


def test_the_recipe_says_where_it_came_from(search, tmp_path):
    out = tmp_path / "best_pure.yaml"
    assert best_recipe.main([str(search), "--only", "augment.shift=0", "--epochs", "50",
                             "--out", str(out)]) == 0
    text = out.read_text()
    assert f"best trial: 2 ({search / '2'}) of 4, val_acc 0.9880, the best of those with " \
           "augment.shift=0" in text
    assert "trials of 20 epochs; the recipe trains 50 (--epochs)" in text
    body = yaml.safe_load(text)
    assert body["lr"] == 0.3 and body["max_epochs"] == 50 and body["augment"] == {"shift": 0}
    assert "val_fraction" not in body and body["optimizer"] == {"momentum": 0.9}
    assert {"override /backend": "jax"} in body["defaults"]


def test_a_recipe_searched_on_a_smaller_net_is_set_to_the_one_it_is_for(search, tmp_path):
    out = tmp_path / "record.yaml"
    assert best_recipe.main([str(search), "--set", "struct=[2048,2048]", "--set",
                             "augment.elastic.alpha=34", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# @package _global_\n# make record's recipe")
    assert '#   set after the search (--set): struct=[2048, 2048], augment.elastic.alpha=34' in text
    body = yaml.safe_load(text)
    assert body["struct"] == [2048, 2048] and body["lr"] == 0.2  # the rest is the best trial's
    assert body["augment"] == {"shift": 1, "elastic": {"alpha": 34}}


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--only", "augment.shift"], "--only: expected KEY=VALUE"),
    (["--set", "struct"], "--set: expected KEY=VALUE"),
    (["--set", "val_fraction=0"], "--set val_fraction: not a setting a recipe keeps; allowed: struct"),
    (["--epochs", "0"], "--epochs: must be an integer >= 1"),
])
def test_bad_arguments_are_refused_in_one_line(search, tmp_path, argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        best_recipe.main([str(search), "--out", str(tmp_path / "x.yaml"), *argv])
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def test_a_directory_that_is_not_a_search_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        best_recipe.main([str(tmp_path), "--out", str(tmp_path / "x.yaml")])
    assert exit_info.value.code == 2
    assert "no optimization_results.yaml: not the directory of a finished Optuna search" \
        in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--set", "lr.foo=1"], "--set lr.foo: not a setting a recipe keeps"),
    (["--set", "max_epochs=50"], "--epochs for max_epochs"),
    (["--set", "struct"], "--set: expected KEY=VALUE"),
])
def test_check_refuses_a_bad_set_before_any_search(tmp_path, argv, fragment, capsys):
    """make record checks RECORD_SET before its search (hours), not after it."""
    with pytest.raises(SystemExit) as exit_info:
        best_recipe.main(["--check", "--out", str(tmp_path / "x.yaml"), *argv])
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_check_passes_good_options_and_writes_nothing(tmp_path):
    assert best_recipe.main(["--check", "--epochs", "120", "--set", "struct=[2048,2048]",
                             "--set", "augment.elastic.alpha=34", "--out", str(tmp_path / "x.yaml")]) == 0
    assert list(tmp_path.iterdir()) == []
