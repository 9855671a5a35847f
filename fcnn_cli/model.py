"""The lab's FCNN as pure functions over an array namespace (numpy or jax.numpy).

Parameters are a list of (W, b) pairs, input layer first. These functions are the reference
the backends are built from and tested against: the JAX backends use them as they are, and the
numpy backend runs the same formulas in place on preallocated buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Params = list[tuple[Any, Any]]


def layer_sizes(n_inputs: int, struct: Sequence[int], n_classes: int) -> list[int]:
    return [n_inputs, *struct, n_classes]


def init_params(
    sizes: Sequence[int], seed: int, init_range: float = 1.0, dtype: str = "float32"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The lab's init: W = 4.90 * (U[0,1) - 0.5) * init_range / sqrt(fan_in + fan_out), b = 0.

    Drawn in float64 from a seeded generator and then cast, so every from-scratch backend (and
    both dtypes) starts from the same weights for the same seed.
    """
    rng = np.random.default_rng([seed, 0])
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = 4.90 * (rng.random((fan_in, fan_out)) - 0.5) * init_range / np.sqrt(fan_in + fan_out)
        params.append((w.astype(dtype), np.zeros(fan_out, dtype=dtype)))
    return params


def activate(xp: Any, name: str, a: Any) -> Any:
    if name == "relu":
        return xp.maximum(a, 0)
    if name == "sigmoid":
        return 1 / (1 + xp.exp(-a))
    if name == "tanh":
        return xp.tanh(a)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(xp: Any, name: str, z: Any) -> Any:
    """The derivative of the activation, written in terms of its output z."""
    if name == "relu":
        return (z > 0).astype(z.dtype)  # heaviside
    if name == "sigmoid":
        return z * (1 - z)
    if name == "tanh":
        return 1 - z * z
    raise ValueError(f"unknown activation {name!r}")


def forward(xp: Any, params: Params, x: Any, activation: str = "relu") -> list[Any]:
    """All layer outputs [Z0 = x, Z1, ..., ZL] and, last, the output logits."""
    zs = [x]
    for w, b in params[:-1]:
        zs.append(activate(xp, activation, zs[-1] @ w + b))
    w, b = params[-1]
    zs.append(zs[-1] @ w + b)
    return zs


def logits(xp: Any, params: Params, x: Any, activation: str = "relu") -> Any:
    z = x
    for w, b in params[:-1]:
        z = activate(xp, activation, z @ w + b)
    w, b = params[-1]
    return z @ w + b


def log_softmax(xp: Any, a: Any) -> Any:
    """Row-wise log-softmax, stable for huge logits (the row max is subtracted first)."""
    shifted = a - xp.max(a, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(xp: Any, a: Any) -> Any:
    shifted = a - xp.max(a, axis=1, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=1, keepdims=True)


def cross_entropy(xp: Any, params: Params, x: Any, y_onehot: Any, activation: str = "relu") -> Any:
    """Curve C: -mean(log y[true class])."""
    return -xp.mean(xp.sum(log_softmax(xp, logits(xp, params, x, activation)) * y_onehot, axis=1))


def backward(
    xp: Any, params: Params, x: Any, y_onehot: Any, activation: str = "relu"
) -> list[tuple[Any, Any]]:
    """Gradients of the mean cross-entropy by error back-propagation in matrix form.

    E = y - Y at the output; for each layer from the top: dW = Z(l-1)^T E / B, db = mean(E),
    then E = (E W^T) * f'(Z(l-1)). The input layer's error is never needed, so it is not formed.
    """
    zs = forward(xp, params, x, activation)
    batch = x.shape[0]
    err = (softmax(xp, zs[-1]) - y_onehot) / batch
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        z_in = zs[layer]
        grads.append((z_in.T @ err, xp.sum(err, axis=0)))
        if layer > 0:
            err = (err @ params[layer][0].T) * activation_derivative(xp, activation, z_in)
    return grads[::-1]
