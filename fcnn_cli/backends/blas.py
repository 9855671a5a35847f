"""numpy's own BLAS for the products numpy cannot write in place: C = beta C - A^T B (gemm).

Plain SGD subtracts each weight gradient Z^T E (E already scaled by lr / B) from W. With
`np.matmul` that is a product into a gradient buffer and then a pass over all the parameters; the
BLAS gemm routine does both at once (C = alpha A B + beta C with alpha = -1, beta = 1), so the
gradient is never stored and the weights are touched once, while the product still has them in
cache. For the timing job that is about a tenth of a step. With the L2 penalty, beta = 1 - lr
alpha / B decays W inside the same call (`numpy_optim`).

The routine is numpy's own: the OpenBLAS that numpy's wheels bundle in `numpy.libs/`, called
through ctypes, so it shares numpy's thread pool (scipy's gemm brings a second OpenBLAS and its
threads, which fight numpy's for the two cores). With beta = 1 the result is the same number as
`W - Z.T @ E` in numpy: the same kernel computes the product, and C - AB is rounded once; with
another beta, that of `beta * C - Z.T @ E` (OpenBLAS scales C by beta before it adds the product).
Where the library or its symbol is not found, or a first small product disagrees with numpy's,
`subtract_product` is None and the backend keeps matmul and the update.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (symbol pattern, integer type): numpy >= 2's scipy-openblas64, older numpy's openblas64_, LP64
_SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("cblas_{}gemm64_", ctypes.c_int64),
            ("cblas_{}gemm", ctypes.c_int))

#: f(a, b, c, beta=1.0): c = beta * c - a.T @ b in place
SubtractProduct = Callable[..., None]


def _libraries() -> list[Path]:
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    return sorted(libs.glob("lib*openblas*.so*")) if libs.is_dir() else []


def _bind(dtype: np.dtype) -> SubtractProduct | None:
    letter, real = {"float32": ("s", ctypes.c_float), "float64": ("d", ctypes.c_double)}[dtype.name]
    for path in _libraries():
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for pattern, integer in _SYMBOLS:
            gemm = getattr(lib, pattern.format(letter), None)
            if gemm is None:
                continue
            gemm.restype = None
            gemm.argtypes = [integer] * 6 + [real, ctypes.c_void_p, integer, ctypes.c_void_p, integer,
                                             real, ctypes.c_void_p, integer]

            def subtract_product(a: np.ndarray, b: np.ndarray, c: np.ndarray, beta: float = 1.0,
                                 gemm=gemm) -> None:
                """c = beta c - a.T @ b; a (K x M), b (K x N), c (M x N), all C-contiguous, one
                dtype. beta = 0 would ignore what c holds (NaN included), so the caller avoids it."""
                k, m = a.shape
                n = b.shape[1]
                gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, -1.0, a.ctypes.data, m, b.ctypes.data, n,
                     beta, c.ctypes.data, n)

            if _agrees(subtract_product, dtype):
                return subtract_product
    return None


def _agrees(subtract_product: SubtractProduct, dtype: np.dtype) -> bool:
    """Whether the bound routine computes what numpy does (catches a wrong integer width)."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.random(shape).astype(dtype) for shape in ((7, 5), (7, 3), (5, 3)))
    expected = c - a.T @ b
    subtract_product(a, b, c)
    return bool(np.allclose(c, expected, rtol=1e-5, atol=1e-6))


@functools.cache
def subtract_product(dtype: str) -> SubtractProduct | None:
    """`f(a, b, c, beta=1.0)`: c = beta c - a.T @ b in place with numpy's BLAS, for float32 or
    float64 arrays that are C-contiguous; None where numpy's BLAS cannot be reached."""
    dtype = np.dtype(dtype)
    if dtype.name not in ("float32", "float64"):
        return None
    try:
        return _bind(dtype)
    except (OSError, AttributeError, ValueError):
        return None
