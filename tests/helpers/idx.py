"""IDX files (MNIST's format) with small random images, for the data tests."""

from __future__ import annotations

import gzip
from pathlib import Path


def write_idx_dir(directory: Path, n_train: int = 20, n_test: int = 10, gz: bool = False,
                  corrupt: tuple[str, str] | None = None) -> dict:
    """The four MNIST IDX files with small random images, in `directory`; `corrupt`=(kind, name)
    damages one of them: kind "magic" (a wrong magic number), "short" or "long" (data bytes
    missing or extra). Returns the arrays written, by file name."""
    import numpy as np

    from fcnn_cli.data.mnist_fetch import IDX_FILES, idx_bytes

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
