"""Data you can trust, through a real `fcnn train`: a run goes on over a damaged data cache with
a one-line notice, and IDX files whose labels are out of range stop it in one line (exit 2)
before any run directory is made. The parts in process: tests/unit/test_data_trust.py."""

from __future__ import annotations

import gzip

import numpy as np
from helpers import NUMPY_FAST, run_fcnn

from fcnn_cli.data.mnist_fetch import IDX_FILES, idx_bytes


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _write(directory, arrays, gz=False):
    directory.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        data = idx_bytes(arrays[name])
        (directory / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)


def _labels_out_of_range():
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8) % 10,
    }
    arrays["t10k-labels-idx1-ubyte"][3] = 200
    return arrays


def test_a_run_goes_on_over_a_damaged_cache(tmp_path):
    env = {"FCNN_DATA_DIR": str(tmp_path / "home")}
    assert run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={tmp_path / 'a'}", env=env).returncode == 0
    (cache,) = (tmp_path / "home" / "cache").glob("digits-split-*.npz")
    _truncate(cache)
    result = run_fcnn("train", *NUMPY_FAST, f"hydra.run.dir={tmp_path / 'b'}", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"fcnn: note: the data cache {cache} cannot be read (BadZipFile: File is not a zip file); "
        "rebuilding it from scikit-learn's bundled digits"]
    assert (tmp_path / "b" / "metrics.json").is_file()



def test_out_of_range_labels_end_to_end(tmp_path):
    """Before: a 201-class model trained on them. Now: one line, exit 2, no run directory."""
    _write(tmp_path / "idx", _labels_out_of_range())
    result = run_fcnn("train", *NUMPY_FAST, "dataset=mnist", f"dataset.path={tmp_path / 'idx'}",
                      cwd=tmp_path, env={"FCNN_DATA_DIR": str(tmp_path / "home")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "t10k-labels-idx1-ubyte holds label 200" in lines[0], result.stderr
    assert not (tmp_path / "outputs").exists()
