"""Data you can trust: a damaged, stale or tampered parsed-array cache is detected, rebuilt from
the IDX files with a one-line notice, and the run goes on; IDX files that disagree with their
headers or with each other are one line naming the file, before any training. Every test uses
its own FCNN_DATA_DIR: the real cache in ~/.cache/fcnn is never touched. The same through a real
`fcnn train`: tests/cli/test_damaged_data.py."""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pytest
from helpers import write_idx_dir

from fcnn_cli.data import array_cache, datasets
from fcnn_cli.data.mnist_fetch import IDX_FILES, idx_bytes
from fcnn_cli.errors import UsageError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FCNN_DATA_DIR", str(tmp_path / "home"))


@pytest.fixture
def idx(tmp_path):
    """Four small IDX files, parsed once so that their cache exists; (directory, cache, arrays)."""
    directory = tmp_path / "idx"
    write_idx_dir(directory)
    arrays = datasets.read_idx_dir(directory)
    cache = datasets.cache_file(datasets.find_idx_files(directory))
    assert cache.is_file()
    return directory, cache, arrays


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _flip_a_data_byte(path):
    """One byte of y_train's stored data changed: the zip member's CRC no longer matches."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("y_train.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size - 1] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite_contents(path):
    """A well-formed cache, its record intact, with different numbers in it (as a bug or a hand
    edit would leave it): only the checksum can tell."""
    with np.load(path) as z:
        arrays = {k: z[k].copy() for k in z.files}
    arrays["y_train"][0] = (arrays["y_train"][0] + 1) % 10
    np.savez(path, **arrays)


def _drop_record(path):
    """A cache as an older fcnn wrote it: arrays only."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != array_cache.META}
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_truncate, "cannot be read (BadZipFile"),
        (_garbage, "cannot be read"),
        (_flip_a_data_byte, "cannot be read (BadZipFile: Bad CRC-32"),
        (_rewrite_contents, "does not match its checksum"),
        (_drop_record, "has no record of what it was built from"),
    ],
)
def test_a_bad_cache_is_rebuilt_with_a_notice(idx, capsys, damage, says):
    directory, cache, arrays = idx
    capsys.readouterr()
    damage(cache)
    rebuilt = datasets.read_idx_dir(directory)
    for key in arrays:
        np.testing.assert_array_equal(rebuilt[key], arrays[key])
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and notice[0].startswith(f"fcnn: note: the data cache {cache} ")
    assert says in notice[0] and f"rebuilding it from the IDX files in {directory}" in notice[0]
    # The rebuilt cache is sound again: read without a word.
    datasets.read_idx_dir(directory)
    assert capsys.readouterr().err == ""


def test_a_cache_of_files_that_changed_since_is_rebuilt(idx, capsys):
    directory, cache, _ = idx
    write_idx_dir(directory, n_train=30)  # new files in place: other sizes and times
    assert datasets.read_idx_dir(directory)["x_train"].shape == (30, 784)
    assert "was built from other files" in capsys.readouterr().err
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # replaced, not piled up


def test_the_digits_cache_gets_the_same_care(capsys):
    first = datasets.load("digits")
    cache = next((datasets.paths.data_home() / "cache").glob("digits-split-*.npz"))
    _rewrite_contents(cache)
    capsys.readouterr()
    again = datasets.load("digits")
    assert "does not match its checksum" in capsys.readouterr().err
    np.testing.assert_array_equal(again.y_train, first.y_train)
    _truncate(cache)
    np.testing.assert_array_equal(datasets.load("digits").x_test, first.x_test)
    assert "cannot be read" in capsys.readouterr().err


# --- IDX files checked before any training ------------------------------------------------------

def _write(directory, arrays, gz=False):
    directory.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        data = idx_bytes(arrays[name])
        (directory / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)


def _arrays(n_train=20, n_test=10, test_size=28):
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, test_size, test_size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }


def _labels_out_of_range():
    arrays = _arrays()
    arrays["t10k-labels-idx1-ubyte"][3] = 200
    return arrays


def _counts_disagree():
    arrays = _arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:19]
    return arrays


def _no_images():
    arrays = _arrays()
    arrays["train-images-idx3-ubyte"] = arrays["train-images-idx3-ubyte"][:0]
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:0]
    return arrays


@pytest.mark.parametrize(
    ("make", "file", "says"),
    [
        (_labels_out_of_range, "t10k-labels-idx1-ubyte", "holds label 200 at position 3"),
        (_counts_disagree, "train-labels-idx1-ubyte", "20 images but 19 labels"),
        (lambda: _arrays(test_size=27), "t10k-images-idx3-ubyte",
         "holds 27x27 images, but the training images are 28x28"),
        (_no_images, "train-images-idx3-ubyte", "holds no images"),
    ],
)
def test_idx_files_that_disagree_are_refused_naming_the_file(tmp_path, make, file, says):
    _write(tmp_path / "idx", make())
    with pytest.raises(UsageError, match="dataset.path") as err:
        datasets.read_idx_dir(tmp_path / "idx")
    assert file in str(err.value) and says in str(err.value)
    assert not (tmp_path / "home" / "cache").exists() or not any((tmp_path / "home" / "cache").iterdir())


def test_a_damaged_gzip_stream_is_one_line(tmp_path):
    _write(tmp_path / "idx", _arrays(), gz=True)
    path = tmp_path / "idx" / "train-images-idx3-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8  # the deflate stream, not the header
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=f"cannot read IDX file {path}"):
        datasets.read_idx_dir(tmp_path / "idx")


@pytest.mark.parametrize(("fraction", "ok"), [(0.006, False), (0.007, True), (0.993, True),
                                               (0.994, False)])
def test_val_fraction_must_leave_every_class_on_both_sides(fraction, ok):
    """digits: 1,437 training samples of 10 classes: from 10/1437 to 1427/1437."""
    if ok:
        data = datasets.load("digits", val_fraction=fraction, seed=1)
        assert set(data.y_val) == set(data.y_train) == set(range(10))
    else:
        with pytest.raises(UsageError, match=r"val_fraction: .* from 0\.006959 to 0\.993"):
            datasets.load("digits", val_fraction=fraction, seed=1)
