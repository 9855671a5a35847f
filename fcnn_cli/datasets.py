"""Datasets: MNIST and Fashion-MNIST from IDX files (read with python-mnist), sklearn's digits.

Parsed arrays are cached as uint8 in an .npz keyed on the IDX files' sizes and mtimes, so only
the first load pays for python-mnist's pure-Python parsing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fcnn_cli import paths
from fcnn_cli.errors import UsageError
from fcnn_cli.mnist_fetch import IDX_FILES, IMAGES_MAGIC, LABELS_MAGIC

DATASETS = ("mnist", "digits", "fashion")
FASHION_HINT = "apt-get install dataset-fashion-mnist"


@dataclass
class Dataset:
    """Features scaled to [0, 1] in the run's dtype, integer labels 0..n_classes-1.

    `classes[k]` is the dataset's own label of class k: 0..9 for the whole of MNIST, (3, 8) after
    `dataset.classes=[3,8]`, whose 3s are then labelled 0 and 8s 1.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    classes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.classes:
            self.classes = tuple(range(self.n_classes))

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def has_val(self) -> bool:
        return self.x_val is not None

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name == "val" and not self.has_val:
            raise ValueError("this dataset has no validation split")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


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
    except (OSError, EOFError, gzip.BadGzipFile) as err:
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


def cache_file(files: list[Path]) -> Path:
    """Where the parsed arrays of these IDX files are cached (keyed on their paths, sizes, mtimes)."""
    key = hashlib.sha256()
    for f in files:
        st = f.stat()
        key.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
    return paths.data_home() / "cache" / f"idx-{key.hexdigest()[:20]}.npz"


def read_idx_dir(directory: Path) -> dict[str, np.ndarray]:
    """uint8 arrays x_train, y_train, x_test, y_test from the IDX files in `directory`."""
    files = find_idx_files(directory)
    if files is None:
        raise FileNotFoundError(directory)
    cache = cache_file(files)
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            cache.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    for f in files:
        check_idx(f)
    from mnist import MNIST  # python-mnist

    reader = MNIST(str(directory), return_type="numpy", gz=files[0].suffix == ".gz")
    try:
        x_train, y_train = reader.load_training()
        x_test, y_test = reader.load_testing()
    except ValueError as err:
        raise UsageError("dataset.path", f"cannot parse the IDX files in {directory}: {err}") from None
    arrays = {
        "x_train": np.asarray(x_train, dtype=np.uint8), "y_train": np.asarray(y_train, dtype=np.uint8),
        "x_test": np.asarray(x_test, dtype=np.uint8), "y_test": np.asarray(y_test, dtype=np.uint8),
    }
    for split in ("train", "test"):
        if arrays[f"x_{split}"].shape[0] != arrays[f"y_{split}"].shape[0]:
            raise UsageError("dataset.path", f"{directory}: {split} images and labels differ in count")
    _save_atomic(cache, arrays)
    return arrays


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz so that a concurrent reader (parallel sweep jobs) sees all of it or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


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
        from fcnn_cli.mnist_fetch import fetch

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
    cache = paths.data_home() / "cache" / "digits-split-v1.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values are 0..16; a fixed stratified 80/20 split, the same on every machine.
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(np.uint8), digits.target.astype(np.uint8), test_size=0.2,
        stratify=digits.target, random_state=0,
    )
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    _save_atomic(cache, arrays)
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


def load(name: str, path: str | None = None, dtype: str = "float32", val_fraction: float = 0.0,
         seed: int = 0, classes: Sequence[int] | None = None) -> Dataset:
    """Load a dataset by name, features scaled to [0, 1] in `dtype`, with an optional val split.

    `classes` keeps only those classes (before the validation split), relabelled in that order.
    """
    if name == "mnist":
        raw, scale = _mnist_arrays(path), 255.0
    elif name == "fashion":
        raw, scale = _fashion_arrays(path), 255.0
    elif name == "digits":
        raw, scale = _digits_arrays(), 16.0
    else:
        raise UsageError("dataset", f"must be one of {', '.join(DATASETS)}; got {name!r}")

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
    if val_fraction > 0:
        from sklearn.model_selection import train_test_split

        idx_train, idx_val = train_test_split(
            np.arange(data.n_train), test_size=val_fraction, stratify=y_train, random_state=seed
        )
        idx_train.sort()
        idx_val.sort()
        data.x_val, data.y_val = x_train[idx_val], y_train[idx_val]
        data.x_train, data.y_train = x_train[idx_train], y_train[idx_train]
    return data
