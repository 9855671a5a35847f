"""Bad input: one clear line naming the setting and what is allowed, exit status 2, no traceback,
and nothing already written is lost."""

from __future__ import annotations

import gzip

import pytest
from conftest import NUMPY_FAST, read_metrics, run_fcnn

from fcnn_cli.data.mnist_fetch import IDX_FILES, idx_bytes


def assert_usage_error(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


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
    ],
)
def test_bad_setting(tmp_path, override, fragments):
    result = run_fcnn("train", *NUMPY_FAST, override, f"hydra.run.dir={tmp_path}")
    assert_usage_error(result, *fragments)
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("optimizer.beta1=1", ("optimizer.beta1", "[0, 1)", "1.0")),
        ("optimizer.beta2=-0.5", ("optimizer.beta2", "[0, 1)")),
        ("optimizer.epsilon=0", ("optimizer.epsilon", "> 0")),
    ],
)
def test_bad_adam_setting(tmp_path, override, fragments):
    result = run_fcnn("train", *NUMPY_FAST, "optimizer=adam", override, f"hydra.run.dir={tmp_path}")
    assert_usage_error(result, *fragments)
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    ("group", "choice", "listed"), [("backend", "torch", "numpy"), ("dataset", "cifar", "digits")]
)
def test_unknown_group_choice_lists_the_choices(group, choice, listed):
    """Hydra's own error, in fcnn's form: one line, the group and its options, exit status 2."""
    result = run_fcnn("train", f"{group}={choice}")
    assert_usage_error(result, f"{group}: no option '{choice}'", "choose one of", listed)


def test_unknown_command():
    assert_usage_error(run_fcnn("trian"), "unknown command", "train")


def test_dataset_path_without_idx_files(tmp_path):
    result = run_fcnn("train", "dataset=mnist", f"dataset.path={tmp_path}", f"hydra.run.dir={tmp_path / 'r'}")
    assert_usage_error(result, "dataset.path", str(tmp_path), "train-images-idx3-ubyte")


def test_fashion_missing_names_the_package(tmp_path):
    result = run_fcnn("train", "dataset=fashion", f"dataset.path={tmp_path}",
                      f"hydra.run.dir={tmp_path / 'r'}")
    assert_usage_error(result, "dataset.path", "apt-get install dataset-fashion-mnist")


def _write_idx_dir(directory, n_train=20, n_test=10, gz=False, corrupt=None):
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        data = idx_bytes(arrays[name])
        if corrupt == ("magic", name):
            data = b"\x00\x00\x08\x04" + data[4:]
        elif corrupt == ("short", name):
            data = data[:-5]
        elif corrupt == ("long", name):
            data = data + b"\x00"
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


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
def test_corrupt_idx_file(tmp_path, gz, kind, name, fragment):
    data_dir = tmp_path / "idx"
    _write_idx_dir(data_dir, gz=gz, corrupt=(kind, name))
    result = run_fcnn("train", "dataset=mnist", f"dataset.path={data_dir}", "progress=false",
                      f"hydra.run.dir={tmp_path / 'r'}", env={"FCNN_DATA_DIR": str(tmp_path / "cache")})
    assert_usage_error(result, "dataset.path", "corrupt IDX file", name, fragment)


def test_existing_run_directory_is_never_overwritten(tmp_path):
    first = run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    second = run_fcnn("train", *NUMPY_FAST, "seed=9", f"hydra.run.dir={tmp_path}")
    assert_usage_error(second, "hydra.run.dir", "already holds a finished run")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert read_metrics(tmp_path)["seed"] == 1
