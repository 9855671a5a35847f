"""Dropout and max-norm (Hinton et al. 2012; Srivastava et al. 2014), written once over an array
namespace xp, for the from-scratch backends.

Inverted dropout: in training, each input of a layer is kept with probability 1 - p and then
scaled by 1 / (1 - p), so that scoring, which drops nothing, sees the same expected input. The
rate of the data's columns is `dropout.input`, of every hidden layer's units `dropout.hidden`.

The masks are drawn on the host, one generator per epoch (seed, epoch): for every layer that
drops, a (rows, width) array of keep flags, row i for the i-th sample of the epoch's order. The
loop draws them and hands them to the backend, so numpy, jax and jax-grad train on the very same
masks (and agree in float64), and a resumed run draws what the uninterrupted one drew. A flag
is an unsigned 16-bit draw u kept when u >= round(p 2^16): the rate is p to 1/65536, and the
scale is the exact inverse of the kept fraction, 2^16 / (2^16 - round(p 2^16)). Drawing 16 bits
costs a third of drawing floats.

Max-norm: after every update, the weights into each hidden unit (a column of W) are scaled down
to an L2 norm of at most c; the output layer's are not constrained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LEVELS = 1 << 16

#: per layer, what its input goes through in training: None, or (keep flags, scale)
Dropout = Sequence[tuple[Any, float] | None]


def threshold(p: float) -> int:
    """Draws below this are dropped."""
    return min(LEVELS - 1, round(p * LEVELS))


def scale(p: float) -> float:
    """What a kept value is multiplied by: the inverse of the fraction kept."""
    return LEVELS / (LEVELS - threshold(p))


def layer_rates(n_layers: int, p_input: float, p_hidden: float) -> list[float]:
    """The dropout rate of each layer's input: the data's for the first layer, a hidden layer's
    units for the others."""
    return [p_input, *[p_hidden] * (n_layers - 1)]


def draw_masks(seed: int, epoch: int, n_rows: int, sizes: Sequence[int],
               rates: Sequence[float]) -> list[np.ndarray | None]:
    """Epoch `epoch`'s keep flags: per layer, (n_rows, sizes[layer]) booleans, or None for a layer
    whose input is not dropped."""
    rng = np.random.default_rng([seed, 3, epoch])
    return [None if not p else rng.integers(0, LEVELS, size=(n_rows, width), dtype=np.uint16)
            >= threshold(p) for width, p in zip(sizes, rates, strict=False)]


def dropout(xp: Any, z: Any, keep: Any, factor: float) -> Any:
    """z with the dropped entries zeroed and the kept ones scaled by `factor`: a layer's input
    in training, and its error on the way back (the same mask, the same scale)."""
    return xp.where(keep, z * factor, 0)


def column_scale(xp: Any, w: Any, c: float) -> Any:
    """Per column of `w`, the factor that brings its L2 norm down to c (1 where it is within):
    c / max(norm, c), exactly 1 for a column already within the bound."""
    return c / xp.maximum(xp.sqrt(xp.sum(w * w, axis=0)), c)


def max_norm(xp: Any, params: Any, c: float) -> Any:
    """`params` with every hidden unit's incoming weights scaled to norm <= c."""
    last = len(params) - 1
    return [(w * column_scale(xp, w, c), b) if layer < last else (w, b)
            for layer, (w, b) in enumerate(params)]


def max_norm_inplace(params: Any, c: float) -> None:
    """max_norm on numpy arrays, in place (the numpy backend's flat buffer views)."""
    for w, _ in params[:-1]:
        w *= column_scale(np, w, c)
