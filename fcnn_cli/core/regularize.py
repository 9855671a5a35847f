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

Gaussian dropout (`dropout.noise=gaussian`; Srivastava et al. 2014, section 10): each input is
multiplied by a draw of N(1, p / (1 - p)) in place of a keep flag and its scale: the same mean
and variance as Bernoulli dropout at rate p, and nothing is zeroed. A draw is the same 16-bit u
as a flag's, looked up in a table of the normal's 2^16 quantiles (gaussian_levels): float32
multipliers made as the flags are (one generator per epoch, the same on every backend), which go
back with the error as the flags do.

Max-norm: after every update, the weights into each hidden unit (a column of W) are scaled down
to an L2 norm of at most c; the output layer's are not constrained.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

LEVELS = 1 << 16

#: per layer, what its input goes through in training: None, or (mask, scale); the mask holds
#: keep flags (bernoulli) or the multipliers themselves (gaussian, whose scale is 1)
Dropout = Sequence[tuple[Any, float] | None]


def threshold(p: float) -> int:
    """Draws below this are dropped."""
    return min(LEVELS - 1, round(p * LEVELS))


def scale(p: float, noise: str = "bernoulli") -> float:
    """What a kept value is multiplied by: the inverse of the fraction kept (gaussian: 1, its
    multipliers have mean 1)."""
    return 1.0 if noise == "gaussian" else LEVELS / (LEVELS - threshold(p))


def mask_dtype(noise: str) -> type:
    """The type of a layer's mask: keep flags, or gaussian multipliers."""
    return np.float32 if noise == "gaussian" else np.bool_


def layer_rates(n_layers: int, p_input: float, p_hidden: float) -> list[float]:
    """The dropout rate of each layer's input: the data's for the first layer, a hidden layer's
    units for the others."""
    return [p_input, *[p_hidden] * (n_layers - 1)]


def draw_masks(seed: int, epoch: int, n_rows: int, sizes: Sequence[int],
               rates: Sequence[float], noise: str = "bernoulli") -> list[np.ndarray | None]:
    """Epoch `epoch`'s masks: per layer, (n_rows, sizes[layer]) keep flags (bernoulli) or float32
    multipliers (gaussian), or None for a layer whose input is not dropped."""
    rng = np.random.default_rng([seed, 3, epoch])
    return [None if not p else _draw(rng, (n_rows, width), p, noise)
            for width, p in zip(sizes, rates, strict=False)]


def _draw(rng: np.random.Generator, shape: tuple[int, int], p: float, noise: str) -> np.ndarray:
    u = rng.integers(0, LEVELS, size=shape, dtype=np.uint16)
    return gaussian_levels(p)[u] if noise == "gaussian" else u >= threshold(p)


@functools.lru_cache(maxsize=8)
def gaussian_levels(p: float) -> np.ndarray:
    """The 2^16 values a gaussian mask at rate p takes, one per 16-bit draw: the quantiles of
    N(0, 1) at (k + 1/2) / 2^16, rescaled to variance exactly 1 (their mean is 0), times
    sqrt(p / (1 - p)), plus 1. A lookup costs a fifth of drawing normal floats, and the
    quantiles' tails end at 4.3 standard deviations."""
    from scipy.special import ndtri  # lazily: only gaussian dropout needs it

    q = ndtri((np.arange(LEVELS) + 0.5) / LEVELS)
    q = (q - q[::-1]) / 2  # exactly symmetric: mean 0
    return (1 + np.sqrt(p / (1 - p)) * q / np.sqrt(np.mean(q * q))).astype(np.float32)


def dropout(xp: Any, z: Any, mask: Any, factor: float) -> Any:
    """z through a layer's mask: the dropped entries zeroed and the kept ones scaled by `factor`
    (keep flags), or each multiplied by its own draw (gaussian). A layer's input in training,
    and its error on the way back (the same mask, the same scale)."""
    if mask.dtype == np.bool_:
        return xp.where(mask, z * factor, 0)
    return z * mask.astype(z.dtype)


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
