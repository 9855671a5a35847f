"""One source of defaults, one exit table, private APIs in one place each (issue 28)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from fcnn_cli import errors
from fcnn_cli.config import schema
from fcnn_cli.config.settings import Settings
from fcnn_cli.estimator import NESTED, FCNNClassifier

REPO = Path(__file__).resolve().parents[2]
#: FCNNClassifier's parameters whose default differs from the CLI's on purpose.
LIBRARY_DEFAULTS = {"progress": False}  # quiet in library use, as scikit-learn's verbose=False


def test_the_estimators_defaults_are_the_schemas():
    """Every FCNNClassifier parameter that is a setting defaults to the schema's value."""
    compared = 0
    for name, parameter in inspect.signature(FCNNClassifier).parameters.items():
        key = ".".join(NESTED[name]) if name in NESTED else name
        if key not in schema.KEYS:
            continue
        expected = LIBRARY_DEFAULTS.get(name, schema.KEYS[key].default_in(schema.TRAIN))
        got = parameter.default
        got = list(got) if isinstance(got, tuple) else got
        assert got == expected, f"FCNNClassifier({name}={got!r}) but the schema's {key} is {expected!r}"
        compared += 1
    assert compared >= 25  # the comparison covers the estimator, not a few keys


def test_the_settings_defaults_are_the_schemas():
    """A Settings built with only what has no default trains as `fcnn train` with no override."""
    s = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=(8,))
    for field, key in (("lr", "lr"), ("annealing", "annealing"), ("max_epochs", "max_epochs"),
                       ("batch_size", "batch_size"), ("checkpoint_every_s", "checkpoint.every_s"),
                       ("augment_shift", "augment.shift")):
        assert getattr(s, field) == schema.KEYS[key].default_in(schema.TRAIN), field
    assert s.schedule.every == schema.KEYS["schedule.every"].default_in(schema.TRAIN)


def test_the_exit_status_page_is_the_table():
    """docs/reference/exit-status.md is generated from fcnn_cli.errors.EXIT_STATUSES; run
    `python -m fcnn_cli.errors --write docs/reference/exit-status.md` when this fails."""
    page = (REPO / "docs" / "reference" / "exit-status.md").read_text()
    assert page == errors.reference_page()
    assert errors.statuses() == [0, 1, 2, 74, 130, 143]


def test_each_error_has_its_status():
    assert errors.exit_status(errors.UsageError("lr", "x")) == 2
    assert errors.exit_status(errors.MachineFault("disk full")) == 74
    assert errors.exit_status(errors.SweepFailed()) == 1
    assert errors.exit_status(errors.Interrupted(2)) == 130
    assert errors.exit_status(errors.Interrupted(15)) == 143
    assert errors.exit_status(errors.Escalated(errors.UsageError("lr", "x"))) == 2
    assert errors.exit_status(ValueError("a bug")) == 1
    assert str(errors.UsageError.line("report: no such directory")) == "report: no such directory"


def test_no_exit_outside_the_entry_points():
    """Only the entry points end the process: the CLI, a SLURM job's process, `python -m`."""
    allowed = {"fcnn_cli/cli.py", "fcnn_cli/hydra_app/slurm/requeue.py", "fcnn_cli/errors.py",
               "fcnn_cli/config/reference.py"}
    found = []
    for path in sorted((REPO / "fcnn_cli").rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        text = path.read_text()
        if name not in allowed and re.search(r"raise SystemExit|sys\.exit\(|\bfail\(", text):
            found.append(name)
    assert found == []


def test_private_hydra_names_still_hold():
    from fcnn_cli.hydra_app import private_hydra

    assert private_hydra.check() == []


def test_private_submitit_names_still_hold():
    from fcnn_cli.hydra_app import private_submitit

    assert private_submitit.check() == []


def test_private_names_are_used_only_through_the_adapters():
    """hydra._internal, and submitit's underscored names, only in the adapter modules."""
    pattern = re.compile(r"hydra\._internal|hydra_joblib_launcher\._core|_usr_sig|_requeue\(|"
                         r"_timeout_countdown|_timeout_min|_parse_config\(|_valid_parameters|"
                         r"\._executor\b|_return_value\b")
    adapters = {"fcnn_cli/hydra_app/private_hydra.py", "fcnn_cli/hydra_app/private_submitit.py"}
    found = []
    for path in [*(REPO / "fcnn_cli").rglob("*.py"), *(REPO / "hydra_plugins").rglob("*.py")]:
        name = path.relative_to(REPO).as_posix()
        if name not in adapters:
            found += [f"{name}: {m.group(0)}" for m in pattern.finditer(path.read_text())]
    assert found == []
