"""The settings schema (fcnn_cli/config/schema.py) is the one table of config keys: the YAML tree,
validation, --help and the reference page all agree with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fcnn_cli.config import reference, schema
from fcnn_cli.config.backends import BACKENDS
from fcnn_cli.config.schema import BENCH, KEYS, TRAIN
from fcnn_cli.core import model, optim, tasks
from fcnn_cli.data.dataset import DATASETS
from fcnn_cli.devices import DEVICES
from fcnn_cli.errors import UsageError
from fcnn_cli.paths import conf_dir

REPO = Path(__file__).resolve().parents[2]
CONF = conf_dir()
PAGE = REPO / "docs" / "reference" / "config.md"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for name, value in node.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        # A dict is a block of keys, except where the schema declares the dotted name itself.
        flat.update(_flatten(value, path) if isinstance(value, dict) and path not in KEYS
                    else {path: value})
    return flat


def _option_keys(path: Path) -> dict[str, Any]:
    """The keys one option file of a config group sets, with their dotted names."""
    text = path.read_text()
    node = yaml.safe_load(text) or {}
    node = {k: v for k, v in node.items() if k not in ("defaults", "hydra")}
    if "@package _global_" not in text:
        node = {path.parent.name: node}
    return _flatten(node)


OPTION_FILES = sorted(p for p in CONF.glob("*/*.yaml") if p.parent.name != "hydra")


@pytest.mark.parametrize("path", OPTION_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_option_sets_declared_keys_to_allowed_values(path):
    for name, value in _option_keys(path).items():
        if name.startswith("backend.") and name != "backend.name":
            continue  # a backend's own options (backend_options), read by that backend alone
        if name.startswith("hparams_search") or name.startswith("optuna"):
            continue
        assert name in KEYS, f"{path.relative_to(CONF)} sets {name}, which the schema does not declare"
        KEYS[name].check(value)  # raises UsageError naming the key


def test_the_default_options_set_the_schemas_defaults():
    for app in (TRAIN, BENCH):
        for group, option in reference.group_defaults(app).items():
            if option is None:
                continue
            for name, value in _option_keys(CONF / group / f"{option}.yaml").items():
                if name in KEYS and app in KEYS[name].apps and KEYS[name].group == group:
                    assert KEYS[name].check(value) == KEYS[name].check(KEYS[name].default_in(app)), name


@pytest.mark.parametrize("key", list(KEYS.values()), ids=lambda k: k.name)
def test_every_default_passes_its_own_rule_and_has_a_meaning(key):
    for app in key.apps:
        key.check(key.default_in(app))
    assert key.meaning and key.allowed()


@pytest.mark.parametrize("key", [k for k in KEYS.values() if k.kind in ("number", "integer")],
                         ids=lambda k: k.name)
def test_bounds_refuse_values_just_outside_naming_the_key(key):
    below = key.low - (0 if key.low_open else (1 if key.kind == "integer" else 1e-9))
    with pytest.raises(UsageError) as err:
        key.check(below)
    assert err.value.key == key.name and str(below)[:3] in str(err.value)
    if key.high is not None:
        above = key.high + (0 if key.high_open else (1 if key.kind == "integer" else 1e-9))
        with pytest.raises(UsageError, match=key.name.replace(".", r"\.")):
            key.check(above)
    with pytest.raises(UsageError, match="must be"):
        key.check("abc")


def test_choices_are_the_code_and_config_tree_own_tables():
    assert tuple(model.ACTIVATIONS) == schema.ACTIVATIONS
    assert tuple(tasks.TASKS) == schema.TASKS
    assert set(schema.OPTIMIZERS) == set(optim.SLOTS) - {"momentum"}
    for group, names in (("backend", BACKENDS), ("dataset", DATASETS), ("device", DEVICES),
                         ("optimizer", schema.OPTIMIZERS), ("task", schema.TASKS),
                         ("logger", schema.LOGGERS)):
        assert sorted(reference.group_options(group)) == sorted(names), group


def test_compose_brings_the_schemas_defaults(tmp_path):
    """The node fcnn_keys that conf/config.yaml lists first carries the schema's defaults."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from fcnn_cli.hydra_app.app import register_defaults

    register_defaults()
    for app, config in ((TRAIN, "config"), (BENCH, "bench")):
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
            cfg = OmegaConf.to_container(compose(config_name=config))
        GlobalHydra.instance().clear()
        flat = _flatten(cfg)
        for key in schema.keys_of(app):
            if key.group is None:
                assert flat[key.name] == key.default_in(app), (app, key.name)


def test_help_shows_every_key_with_its_meaning_and_allowed_values():
    for app in (TRAIN, BENCH):
        text = " ".join(reference.help_text(app).split())
        for key in schema.keys_of(app):
            if key.name == f"{key.group}.name":
                assert f"{key.group} " in text
                continue
            assert f"{key.name}=" in text and key.allowed() in text, key.name
            assert " ".join(key.meaning.split()) in text, key.name
    assert "backends=" in reference.help_text(BENCH) and "probe.layer=" not in reference.help_text(BENCH)


def test_the_reference_page_is_current():
    """docs/reference/config.md is made from the schema by `make docs`; rerun it after a change."""
    assert PAGE.read_text() == reference.markdown(), (
        "docs/reference/config.md is stale: run `make docs` (or python -m fcnn_cli.config.reference "
        "--write docs/reference/config.md)")


def test_reference_writer(tmp_path):
    out = tmp_path / "deep" / "config.md"
    assert reference.main(["--write", str(out)]) == 0
    assert out.read_text() == reference.markdown()
    assert "| `struct` | `[500,250]` |" in out.read_text()
