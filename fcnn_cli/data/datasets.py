"""Datasets: MNIST and Fashion-MNIST from IDX files (read with python-mnist), sklearn's digits.

IDX files are checked against their headers before they are parsed (magic numbers, lengths,
counts, image sizes, label range), so damaged data is one line naming the file, never a crash
mid-training. Parsed arrays are cached as uint8 (`fcnn_cli.data.array_cache`: the cache records what
it was built from and a checksum, and a damaged or stale one is rebuilt), so only the first load
pays for python-mnist's pure-Python parsing.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fcnn_cli import paths
from fcnn_cli.data import array_cache
from fcnn_cli.data.dataset import DATASETS, IN_MEMORY, SHAPES, Dataset
from fcnn_cli.data.mnist_fetch import IDX_FILES, IMAGES_MAGIC, LABELS_MAGIC
from fcnn_cli.errors import UsageError

FASHION_HINT = "apt-get install dataset-fashion-mnist"
# MNIST and Fashion-MNIST label ten classes, 0..9.
IDX_CLASSES = 10


# --- IDX files ----------------------------------------------------------------------------------

def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def check_idx(path: Path) -> tuple[int, ...]:
    """Check an IDX file's magic number and that its length matches its header; return its shape.

    python-mnist checks the magic number but not the length, and a truncated file would give
    ragged or short arrays, so both are checked here first.
    """
    images = "images" in path.name
    magic_expected = IMAGES_MAGIC if images else LABELS_MAGIC
    dims = 3 if images else 1
    try:
        with _open(path) as f:
            header = f.read(4 + 4 * dims)
            if len(header) < 4 + 4 * dims:
                raise UsageError("dataset.path", f"corrupt IDX file {path}: shorter than its header")
            magic, *shape = struct.unpack(f">I{dims}I", header)
            if magic != magic_expected:
                raise UsageError(
                    "dataset.path",
                    f"corrupt IDX file {path}: magic number {magic}, expected {magic_expected}",
                )
            expected = int(np.prod(shape))
            if path.suffix == ".gz":
                actual = sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))
            else:
                actual = path.stat().st_size - len(header)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise UsageError("dataset.path", f"cannot read IDX file {path}: {err}") from None
    if actual != expected:
        raise UsageError(
            "dataset.path",
            f"corrupt IDX file {path}: {actual} data bytes, its header says {expected}",
        )
    return tuple(shape)


def find_idx_files(directory: Path) -> list[Path] | None:
    """The four IDX files in `directory`, all plain or all gzipped; None when absent."""
    for suffix in ("", ".gz"):
        files = [directory / (name + suffix) for name in IDX_FILES]
        if all(f.is_file() for f in files):
            return files
    return None


def check_idx_files(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Check the four IDX files (train images, train labels, test images, test labels) against
    their headers and each other before any parsing; return their shapes by file name."""
    shapes = {f.name: check_idx(f) for f in files}
    train_images, train_labels, test_images, test_labels = files
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        n_images, n_labels = shapes[images.name][0], shapes[labels.name][0]
        if n_images == 0:
            raise UsageError("dataset.path", f"IDX file {images} holds no images")
        if n_images != n_labels:
            raise UsageError("dataset.path", f"IDX files {images} and {labels} disagree: "
                                             f"{n_images} images but {n_labels} labels")
    if shapes[train_images.name][1:] != shapes[test_images.name][1:]:
        train_size = "x".join(map(str, shapes[train_images.name][1:]))
        test_size = "x".join(map(str, shapes[test_images.name][1:]))
        raise UsageError("dataset.path", f"IDX file {test_images} holds {test_size} images, but "
                                         f"the training images are {train_size}")
    return shapes


def check_labels(labels: np.ndarray, path: Path) -> None:
    """Labels of an MNIST-format file must name one of its ten classes."""
    bad = np.flatnonzero(labels >= IDX_CLASSES)
    if bad.size:
        raise UsageError("dataset.path", f"IDX file {path} holds label {int(labels[bad[0]])} at "
                                         f"position {int(bad[0])} ({bad.size} such labels); "
                                         f"labels must be 0..{IDX_CLASSES - 1}")


def cache_file(files: list[Path]) -> Path:
    """Where the parsed arrays of these IDX files are cached (keyed on their paths; what they
    were built from is recorded inside, see `fcnn_cli.data.array_cache`)."""
    key = hashlib.sha256(";".join(str(f.resolve()) for f in files).encode())
    return paths.data_home() / "cache" / f"idx-v{array_cache.VERSION}-{key.hexdigest()[:20]}.npz"


def _idx_sources(files: list[Path]) -> list[dict[str, object]]:
    sources = []
    for f in files:
        st = f.stat()
        sources.append({"file": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return sources


def read_idx_dir(directory: Path) -> dict[str, np.ndarray]:
    """uint8 arrays x_train, y_train, x_test, y_test from the IDX files in `directory`."""
    files = find_idx_files(directory)
    if files is None:
        raise FileNotFoundError(directory)
    cache = cache_file(files)
    sources = _idx_sources(files)
    cached = array_cache.load(cache, sources, rebuilt_from=f"the IDX files in {directory}")
    if cached is not None:
        return cached
    shapes = check_idx_files(files)
    from mnist import MNIST  # python-mnist

    reader = MNIST(str(directory), return_type="numpy", gz=files[0].suffix == ".gz")
    try:
        x_train, y_train = reader.load_training()
        x_test, y_test = reader.load_testing()
    except (ValueError, OSError, EOFError, zlib.error) as err:
        raise UsageError("dataset.path", f"cannot parse the IDX files in {directory}: {err}") from None
    arrays = {
        "x_train": np.asarray(x_train, dtype=np.uint8), "y_train": np.asarray(y_train, dtype=np.uint8),
        "x_test": np.asarray(x_test, dtype=np.uint8), "y_test": np.asarray(y_test, dtype=np.uint8),
    }
    for name, f in zip(("x_train", "y_train", "x_test", "y_test"), files, strict=True):
        header = shapes[f.name]
        expected = (header[0], math.prod(header[1:])) if len(header) > 1 else header
        if arrays[name].shape != expected:  # python-mnist read other than the header says
            raise UsageError("dataset.path", f"IDX file {f} parsed to shape {arrays[name].shape}, "
                                             f"its header says {expected}")
    check_labels(arrays["y_train"], files[1])
    check_labels(arrays["y_test"], files[3])
    array_cache.save(cache, arrays, sources)
    return arrays


# --- the three datasets -------------------------------------------------------------------------

def _mnist_arrays(path: str | None, *, fetch_if_missing: bool = True) -> dict[str, np.ndarray]:
    directory = paths.mnist_dir(path)
    if find_idx_files(directory) is None:
        if path is not None or not fetch_if_missing:
            raise UsageError(
                "dataset.path",
                f"no MNIST IDX files in {directory} (need {', '.join(IDX_FILES)}, plain or .gz); "
                "leave dataset.path unset to fetch them, or run `fcnn data fetch`",
            )
        from fcnn_cli.data.mnist_fetch import fetch

        fetch(directory)
    return read_idx_dir(directory)


def _fashion_arrays(path: str | None) -> dict[str, np.ndarray]:
    directory = Path(path or "/usr/share/datasets/fashion-mnist").expanduser()
    if find_idx_files(directory) is None:
        raise UsageError(
            "dataset.path",
            f"no Fashion-MNIST IDX files in {directory}; install them with `{FASHION_HINT}` "
            "or point dataset.path at a directory holding them",
        )
    return read_idx_dir(directory)


def _digits_arrays() -> dict[str, np.ndarray]:
    # Kept as uint8 in the data cache: importing scikit-learn costs more (~2 s) than the
    # training runs digits is used for.
    from importlib.metadata import version

    cache = paths.data_home() / "cache" / f"digits-split-v{array_cache.VERSION}.npz"
    sources = {"scikit-learn": version("scikit-learn"), "split": "stratified 80/20",
               "random_state": 0}
    cached = array_cache.load(cache, sources, rebuilt_from="scikit-learn's bundled digits")
    if cached is not None:
        return cached
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values are 0..16; a fixed stratified 80/20 split, the same on every machine.
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(np.uint8), digits.target.astype(np.uint8), test_size=0.2,
        stratify=digits.target, random_state=0,
    )
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    array_cache.save(cache, arrays, sources)
    return arrays


def select_classes(raw: dict[str, np.ndarray], classes: Sequence[int], name: str) -> dict[str, np.ndarray]:
    """Only the samples of `classes`, in training and test, relabelled 0, 1, ... in that order."""
    present = sorted(set(np.unique(raw["y_train"]).tolist()) | set(np.unique(raw["y_test"]).tolist()))
    missing = [c for c in classes if c not in present]
    if missing:
        contiguous = present == list(range(present[0], present[-1] + 1))
        have = f"{present[0]}..{present[-1]}" if contiguous else ", ".join(map(str, present))
        raise UsageError("dataset.classes", f"{name} has no class {', '.join(map(str, missing))} "
                                            f"(its classes: {have})")
    lookup = np.full(max(present) + 1, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    out = {}
    for split in ("train", "test"):
        new_labels = lookup[raw[f"y_{split}"]]
        keep = new_labels >= 0
        out[f"x_{split}"], out[f"y_{split}"] = raw[f"x_{split}"][keep], new_labels[keep]
    return out
def check_val_fraction(labels: np.ndarray, fraction: float) -> None:
    """A stratified hold-out of `fraction` must leave every class samples on both sides."""
    counts = np.bincount(labels)
    present = counts[counts > 0]
    n, k = labels.shape[0], present.size
    if present.min() < 2:
        raise UsageError("val_fraction", f"class {int(np.flatnonzero(counts == 1)[0])} has a "
                                         "single training sample, which cannot be split; use 0")
    held_out = math.ceil(fraction * n)
    if held_out < k or n - held_out < k:
        raise UsageError(
            "val_fraction",
            f"{fraction} holds out {held_out} of {n} training samples and keeps {n - held_out}; "
            f"each side needs every one of the {k} classes: choose a value from "
            f"{k / n:.4g} to {(n - k) / n:.4g}, or 0 for no validation set",
        )


def load(name: str, path: str | None = None, dtype: str = "float32", val_fraction: float = 0.0,
         seed: int = 0, classes: Sequence[int] | None = None,
         status: Callable[[str], None] | None = None) -> Dataset:
    """Load a dataset by name, features scaled to [0, 1] in `dtype`, with an optional val split.

    `classes` keeps only those classes (before the validation split), relabelled in that order.
    `status` is told, in a few words, what is being done (`fcnn train`'s status line).
    """
    if status is not None:
        status(_loading_text(name, path))
    if name == "mnist":
        raw = _mnist_arrays(path)
    elif name == "fashion":
        raw = _fashion_arrays(path)
    elif name == "digits":
        raw = _digits_arrays()
    else:
        raise UsageError("dataset", f"must be one of {', '.join(DATASETS)}; got {name!r}")
    scale = SHAPES[name].divisor

    def features(x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=dtype).reshape(x.shape[0], -1)
        out /= scale  # MNIST: pixel / 255
        return out

    if classes is not None:
        raw = select_classes(raw, classes, name)
    x_train, y_train = features(raw["x_train"]), raw["y_train"].astype(np.int64)
    data = Dataset(
        name=name, x_train=x_train, y_train=y_train,
        x_test=features(raw["x_test"]), y_test=raw["y_test"].astype(np.int64),
        n_classes=len(classes) if classes is not None
        else int(max(y_train.max(), raw["y_test"].max())) + 1,
        classes=tuple(classes) if classes is not None else (),
    )
    return split_validation(data, val_fraction, seed)


_TITLES = {"mnist": "MNIST", "fashion": "Fashion-MNIST", "digits": "the digits"}


def _loading_text(name: str, path: str | None) -> str:
    """What loading `name` will do: read the array cache, parse IDX files, or download MNIST."""
    title = _TITLES.get(name, name)
    try:
        if name == "digits":
            return f"loading {title}"
        directory = paths.mnist_dir(path) if name == "mnist" else Path(
            path or "/usr/share/datasets/fashion-mnist").expanduser()
        files = find_idx_files(directory)
        if files is None:
            return f"downloading {title}" if name == "mnist" and path is None else f"loading {title}"
        if cache_file(files).is_file():
            return f"loading {title} from the cache"
        return f"reading the {title} IDX files in {directory} (once; then from the cache)"
    except OSError:
        return f"loading {title}"


def split_validation(data: Dataset, val_fraction: float, seed: int) -> Dataset:
    """Hold out a seeded, stratified `val_fraction` of the training rows as the validation split
    (nothing when 0); the rows on both sides keep their order."""
    if val_fraction <= 0:
        return data
    from sklearn.model_selection import train_test_split

    x_train, y_train = data.x_train, data.y_train
    check_val_fraction(y_train, val_fraction)
    idx_train, idx_val = train_test_split(
        np.arange(data.n_train), test_size=val_fraction, stratify=y_train, random_state=seed
    )
    for part, idx in (("validation", idx_val), ("training", idx_train)):
        missing = np.setdiff1d(np.unique(y_train), y_train[idx])
        if missing.size:  # a very uneven dataset: stratification could not cover them all
            raise UsageError("val_fraction", f"{val_fraction} leaves class {int(missing[0])} "
                                             f"without {part} samples; choose another value")
    idx_train.sort()
    idx_val.sort()
    data.x_val, data.y_val = x_train[idx_val], y_train[idx_val]
    data.x_train, data.y_train = x_train[idx_train], y_train[idx_train]
    return data


def from_arrays(x: np.ndarray, y: np.ndarray, n_classes: int, dtype: str = "float32",
                val_fraction: float = 0.0, seed: int = 0) -> Dataset:
    """A Dataset of training rows given in memory (features as they are, labels 0..n_classes-1),
    with an optional seeded validation split and no test split: what FCNNClassifier.fit trains on.
    The features are copied into `dtype` (C order), so training never writes into the caller's
    arrays."""
    x = np.array(x, dtype=dtype, order="C").reshape(len(x), -1)
    data = Dataset(name=IN_MEMORY, x_train=x, y_train=np.asarray(y, dtype=np.int64),
                   x_test=None, y_test=None, n_classes=int(n_classes))
    return split_validation(data, val_fraction, seed)
