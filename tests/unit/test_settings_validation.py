"""Bad settings, in process: the real config composed through Hydra's compose API (the
compose_config fixture) with a bad override, then the checks `fcnn train` makes before any
training. Each is a UsageError naming the key and what is allowed, in one line. That the CLI
prints it as one line on stderr with exit status 2 and writes no run: tests/cli/test_bad_input.py
(a few of these cases, end to end)."""

from __future__ import annotations

import pytest
from helpers import NUMPY_FAST, write_idx_dir

from fcnn_cli.config import validate
from fcnn_cli.core import tasks
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import probe
from fcnn_cli.training.objective import resolve_objective


def checked(cfg):
    """The checks `fcnn train` makes before training (fcnn_cli.hydra_app.job), in its order:
    the settings, then those that need the data (the classes, the task, the objective, the
    probe). Returns the settings."""
    s = validate.from_train_config(cfg)
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
    task = tasks.create(s, data)
    resolve_objective(s.objective, task)
    if s.probe is not None:
        probe.check(s.probe, task, data)
    return s


def refused(cfg, *fragments: str) -> UsageError:
    """cfg is refused before training: one line holding every fragment."""
    with pytest.raises(UsageError) as err:
        checked(cfg)
    line = str(err.value)
    assert "\n" not in line and line == f"{err.value.key}: {err.value.message}"
    for fragment in fragments:
        assert fragment in line, line
    return err.value


def test_the_fast_settings_pass(compose_config):
    s = checked(compose_config(*NUMPY_FAST))
    assert (s.backend, s.dataset, s.struct, s.max_epochs) == ("numpy", "digits", (32,), 3)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("struct=[500,-3]", ("struct[1]", "positive integers", "-3")),
        ("struct=[0]", ("struct[0]", "positive integers")),
        ("struct=[1.5]", ("struct[0]", "positive integers")),
        ("struct=abc", ("struct", "list of positive integers")),
        ("lr=0", ("lr", "> 0")),
        ("lr=-0.1", ("lr", "> 0")),
        ("annealing=0", ("annealing", "(0, 1]")),
        ("annealing=1.5", ("annealing", "(0, 1]")),
        ("batch_size=0", ("batch_size", "from 1 to")),
        ("max_epochs=0", ("max_epochs", "from 1 to")),
        ("activation=softplus", ("activation", "relu, sigmoid, tanh", "softplus")),
        ("dtype=float16", ("dtype", "float32, float64", "float16")),
        ("val_fraction=1.0", ("val_fraction", "[0, 1)")),
        ("optimizer.momentum=1", ("optimizer.momentum", "[0, 1)", "1")),
        ("optimizer.alpha=-1e-4", ("optimizer.alpha", ">= 0")),
        ("threads=0", ("threads", "from 1 to", "0")),
        ("threads=-2", ("threads", "from 1 to", "-2")),
        ("threads=1.5", ("threads", "an integer", "1.5")),
        ("threads=two", ("threads", "an integer", "'two'")),
    ],
)
def test_bad_setting(compose_config, override, fragments):
    error = refused(compose_config(*NUMPY_FAST, override), *fragments)
    assert error.key.startswith(override.split("=")[0])


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("optimizer.beta1=1", ("optimizer.beta1", "[0, 1)", "1.0")),
        ("optimizer.beta2=-0.5", ("optimizer.beta2", "[0, 1)")),
        ("optimizer.epsilon=0", ("optimizer.epsilon", "> 0")),
    ],
)
def test_bad_adam_setting(compose_config, override, fragments):
    error = refused(compose_config(*NUMPY_FAST, "optimizer=adam", override), *fragments)
    assert error.key == override.split("=")[0]


def test_device_gpu_with_numpy(compose_config):
    error = refused(compose_config(*NUMPY_FAST, "device=gpu"), "backend=numpy", "jax", "cpu, auto")
    assert error.key == "device"


FAST = ("backend=numpy", "dataset=digits", "progress=false", "max_epochs=1")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (("dataset.classes=[3,3]",), ("dataset.classes", "distinct", "3")),
        (("dataset.classes=[3,10]",), ("dataset.classes", "digits has no class 10", "0..9")),
        (("dataset.classes=3",), ("dataset.classes", "list")),
        (("struct=[16,4]", "probe.layer=3"), ("probe.layer", "2 hidden layers", "1..2")),
        (("struct=[16]", "probe.layer=0"), ("probe.layer", ">= 1")),
        (("struct=[16]", "probe.layer=1", "probe.classes=[3]"), ("probe.classes", "two classes")),
        (("struct=[16]", "probe.layer=1", "dataset.classes=[1,7]"),
         ("probe.classes", "3, 8 not among the run's classes")),
        (("struct=[16]", "probe.layer=1", "probe.lr=0"), ("probe.lr", "> 0")),
        (("task=logreg", "struct=[10]"), ("struct", "task=logreg", "[]")),
        (("task=logreg", "dataset.classes=null"), ("dataset.classes", "two classes")),
        (("task=logreg", "backend=sklearn", "batch_size=8"), ("batch_size", "SGDClassifier", "1")),
        (("task=autoencoder", "struct=[]"), ("struct", "task=autoencoder")),
        (("task=autoencoder", "struct=[8]", "objective=val_acc"), ("objective", "no accuracy")),
        (("objective=probe_val_acc",), ("objective", "needs a probe")),
        (("objective=test_acc",), ("objective", "probe_val_acc")),
        (("task=logreg", "probe.layer=code"), ("probe.layer",)),
    ],
)
def test_bad_task_settings(compose_config, overrides, fragments):
    error = refused(compose_config(*FAST, *overrides), *fragments)
    assert error.key == fragments[0]


# --- the dataset's files, read before any training ----------------------------------------------

@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNN_DATA_DIR", str(tmp_path / "cache"))


def test_dataset_path_without_idx_files(compose_config, tmp_path, data_home):
    refused(compose_config("dataset=mnist", f"dataset.path={tmp_path}"),
            "dataset.path", str(tmp_path), "train-images-idx3-ubyte")


def test_fashion_missing_names_the_package(compose_config, tmp_path, data_home):
    refused(compose_config("dataset=fashion", f"dataset.path={tmp_path}"),
            "dataset.path", "apt-get install dataset-fashion-mnist")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("kind", "name", "fragment"),
    [
        ("magic", "train-images-idx3-ubyte", "magic number 2052, expected 2051"),
        ("magic", "t10k-labels-idx1-ubyte", "magic number 2052, expected 2049"),
        ("short", "t10k-images-idx3-ubyte", "its header says 7840"),
        ("long", "train-labels-idx1-ubyte", "21 data bytes, its header says 20"),
    ],
)
def test_corrupt_idx_file(compose_config, tmp_path, data_home, gz, kind, name, fragment):
    data_dir = tmp_path / "idx"
    write_idx_dir(data_dir, gz=gz, corrupt=(kind, name))
    refused(compose_config("dataset=mnist", f"dataset.path={data_dir}", "progress=false"),
            "dataset.path", "corrupt IDX file", name, fragment)
