"""Real data: MNIST (fetched on first use into the per-user cache) and, when Debian's package is
installed, Fashion-MNIST. Select with `-m mnist`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import read_metrics, run_fcnn

from fcnn_cli import paths
from fcnn_cli.data import datasets, mnist_fetch

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def mnist_dir():
    directory = paths.mnist_dir()
    if datasets.find_idx_files(directory) is None:
        result = run_fcnn("data", "fetch", timeout=600)
        assert result.returncode == 0, result.stderr
    return directory


def test_fetched_files_match_the_official_md5s(mnist_dir):
    assert mnist_fetch.verify_md5(mnist_dir) == mnist_fetch.MD5


def test_mnist_arrays(mnist_dir):
    data = datasets.load("mnist")
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0
    assert np.bincount(data.y_train).tolist()[:3] == [5923, 6742, 5958]


def test_data_info(mnist_dir):
    result = run_fcnn("data", "info")
    assert result.returncode == 0
    assert "4/4 files verified" in result.stdout


def test_short_mnist_training(mnist_dir, tmp_path):
    result = run_fcnn("train", "struct=[100]", "max_epochs=1", "batch_size=50", "progress=false",
                      f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["dataset"] == "mnist" and metrics["n_train"] == 60000
    assert metrics["test_acc"] > 0.94


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="needs `apt-get install dataset-fashion-mnist`")
def test_fashion_from_the_debian_package(tmp_path):
    """The gzipped IDX files Debian installs, read through the same python-mnist path."""
    result = run_fcnn("train", "dataset=fashion", "backend=numpy", "struct=[64]", "max_epochs=1",
                      "batch_size=100", "progress=false", "plot=false", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(tmp_path)
    assert metrics["n_train"] == 60000 and metrics["n_test"] == 10000
    assert 0.75 < metrics["test_acc"] < 0.95
