"""The one finite-difference check of the suite: central differences of a scalar function with
respect to the entries of an array it reads, for every gradient test (the formulas of
fcnn_cli.core.model and core.tasks, the JAX backends' gradients, the tasks' output errors).

    numerical_gradient(lambda: loss(params), w)   # d loss / d w, entry by entry

Each entry is nudged by +eps and -eps in place and restored exactly, so `array` must be a
writable float64 array that `f` reads (a parameter of `params`, a batch of logits)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-6


def numerical_derivative(f: Callable[[], float], array: np.ndarray, index: tuple[int, ...],
                         eps: float = EPS) -> float:
    """(f(array[index] + eps) - f(array[index] - eps)) / (2 eps), the array restored after."""
    saved = array[index]
    try:
        array[index] = saved + eps
        plus = float(f())
        array[index] = saved - eps
        minus = float(f())
    finally:
        array[index] = saved
    return (plus - minus) / (2 * eps)


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The central-difference gradient of f() with respect to every entry of `array`."""
    numeric = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        numeric[index] = numerical_derivative(f, array, index, eps)
    return numeric
