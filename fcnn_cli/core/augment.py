"""Augmentation by shifting: each epoch trains on copies of the training images moved by up to
K pixels in each direction, the space they leave filled with zeros (the background).

The shifts are a pure function of (seed, epoch): one generator per epoch, so every backend
trains on the very same images for the same seed, and a resumed run draws what the
uninterrupted one drew (nothing goes into a checkpoint). Only the training inputs are shifted;
the validation and test sets, and the training curves, are scored on the images as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def draw_shifts(seed: int, epoch: int, n: int, k: int) -> np.ndarray:
    """(n, 2) integer shifts (rows down, columns right), each uniform in -k..k, for epoch
    `epoch` of the run seeded `seed`."""
    return np.random.default_rng([seed, 2, epoch]).integers(-k, k + 1, size=(n, 2))


def _span(d: int, size: int) -> tuple[slice, slice]:
    """(destination, source) slices of one axis moved by d (zero-filled where it leaves)."""
    return (slice(d, size), slice(0, size - d)) if d >= 0 else (slice(0, size + d), slice(-d, size))


def shift_images(x: np.ndarray, image: Sequence[int], shifts: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The rows of `x` (flattened images of shape `image`), row i moved by shifts[i]; zeros where
    nothing moved in. Rows sharing a shift are moved together: (2k+1)^2 slice copies, not n."""
    rows, cols = image
    out = np.zeros_like(x) if out is None else out
    if out is not x:
        out[...] = 0
    src, dst = x.reshape(-1, rows, cols), out.reshape(-1, rows, cols)
    code = (shifts[:, 0] + rows) * (2 * cols + 1) + (shifts[:, 1] + cols)  # one key per shift
    order = np.argsort(code, kind="stable")
    keys, starts = np.unique(code[order], return_index=True)
    for key, group in zip(keys, np.split(order, starts[1:]), strict=True):
        dy, dx = divmod(int(key), 2 * cols + 1)
        (to_r, from_r), (to_c, from_c) = _span(dy - rows, rows), _span(dx - cols, cols)
        dst[group, to_r, to_c] = src[group, from_r, from_c]
    return out


def shifted_training_set(x: np.ndarray, image: Sequence[int], seed: int, epoch: int, k: int,
                         out: np.ndarray | None = None) -> np.ndarray:
    """Epoch `epoch`'s training inputs: every row of `x` shifted by its drawn amount."""
    return shift_images(x, image, draw_shifts(seed, epoch, x.shape[0], k), out)
