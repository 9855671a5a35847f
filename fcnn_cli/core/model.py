"""The lab's FCNN as pure functions over an array namespace (numpy or jax.numpy).

Parameters are a list of (W, b) pairs, input layer first. These functions are the reference
the backends are built from and tested against: the JAX backends use them as they are, and the
numpy backend runs the same formulas in place on preallocated buffers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple

import numpy as np

from fcnn_cli.core import regularize
from fcnn_cli.core.regularize import Dropout

#: A net's parameters: (W, b) per layer, input side first, as numpy or JAX arrays.
Params = list[tuple[Any, Any]]


def struct_text(struct: Sequence[int]) -> str:
    """Hidden layer sizes as they are written on the command line: [500,250]."""
    return "[" + ",".join(str(s) for s in struct) + "]"


def layer_sizes(n_inputs: int, struct: Sequence[int], n_outputs: int) -> list[int]:
    return [n_inputs, *struct, n_outputs]


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


class Activation(NamedTuple):
    """One hidden-layer activation, in every form a backend computes it.

    `apply` and `derivative` take an array namespace (numpy or jax.numpy) and return new
    arrays: the reference formulas, which the JAX backends trace as they are. `apply_inplace`
    and `times_derivative_inplace` are the same formulas on numpy buffers, for the numpy backend
    (no temporaries of the buffers' size). The derivative is written in terms of the output z.
    """

    apply: Callable[[Any, Any], Any]  # (xp, a) -> f(a)
    derivative: Callable[[Any, Any], Any]  # (xp, z) -> f'(a), z = f(a)
    apply_inplace: Callable[[np.ndarray], None]  # a <- f(a)
    times_derivative_inplace: Callable[[np.ndarray, np.ndarray], None]  # (err, z): err *= f'(a)
    sklearn: str  # scikit-learn's name for it (MLPClassifier's `activation`)


def _sigmoid_inplace(a: np.ndarray) -> None:
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


def _times_sigmoid_derivative(err: np.ndarray, z: np.ndarray) -> None:
    err *= z
    err *= 1 - z


def _times_tanh_derivative(err: np.ndarray, z: np.ndarray) -> None:
    err *= 1 - z * z


#: The activations by the name `activation=` takes.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        apply=lambda xp, a: xp.maximum(a, 0),
        derivative=lambda xp, z: (z > 0).astype(z.dtype),  # heaviside
        apply_inplace=lambda a: np.maximum(a, 0, out=a),
        # times the boolean z > 0, as `derivative`; one vectorised pass (a masked assignment
        # err[z <= 0] = 0 gathers the indices first, ten times slower)
        times_derivative_inplace=lambda err, z: np.multiply(err, z > 0, out=err),
        sklearn="relu"),
    "sigmoid": Activation(
        apply=lambda xp, a: 1 / (1 + xp.exp(-a)),
        derivative=lambda xp, z: z * (1 - z),
        apply_inplace=_sigmoid_inplace,
        times_derivative_inplace=_times_sigmoid_derivative,
        sklearn="logistic"),
    "tanh": Activation(
        apply=lambda xp, a: xp.tanh(a),
        derivative=lambda xp, z: 1 - z * z,
        apply_inplace=lambda a: np.tanh(a, out=a),
        times_derivative_inplace=_times_tanh_derivative,
        sklearn="tanh"),
}


def activate(xp: Any, name: str, a: Any) -> Any:
    return ACTIVATIONS[name].apply(xp, a)


def activation_derivative(xp: Any, name: str, z: Any) -> Any:
    """The derivative of the activation, written in terms of its output z."""
    return ACTIVATIONS[name].derivative(xp, z)


def layer_outputs(xp: Any, params: Params, x: Any, activation: str = "relu",
                  dropout: Dropout | None = None) -> Iterator[Any]:
    """Each layer's output in turn: the hidden layers Z1 .. Z(L-1), then the output logits.

    The one forward pass: `forward`, `logits` and `hidden` take what they need from it, and a
    caller that stops early (a probe reading hidden layer K) never computes the layers above.
    `dropout` (training only): per layer, None or the (keep flags, scale) its input goes
    through (`fcnn_cli.core.regularize`); the outputs yielded are before it.
    """
    z = x
    last = len(params) - 1
    for layer, (w, b) in enumerate(params):
        if dropout is not None and dropout[layer] is not None:
            z = regularize.dropout(xp, z, *dropout[layer])
        z = z @ w + b
        if layer < last:
            z = activate(xp, activation, z)
        yield z


def forward(xp: Any, params: Params, x: Any, activation: str = "relu",
            dropout: Dropout | None = None) -> list[Any]:
    """All layer outputs [Z0 = x, Z1, ..., Z(L-1)] and, last, the output logits (each before
    the dropout of the layer above)."""
    return [x, *layer_outputs(xp, params, x, activation, dropout)]


def logits(xp: Any, params: Params, x: Any, activation: str = "relu",
           dropout: Dropout | None = None) -> Any:
    """The output layer's pre-activation (the task's output function is applied on top)."""
    # Each layer's output is dropped as soon as the next one exists.
    return deque(layer_outputs(xp, params, x, activation, dropout), maxlen=1)[0]


def hidden(xp: Any, params: Params, x: Any, layer: int, activation: str = "relu") -> Any:
    """The output of hidden layer `layer` (1 = the first hidden layer)."""
    if not 1 <= layer < len(params):
        raise ValueError(f"hidden layer {layer} of a net with {len(params) - 1} hidden layers")
    return next(islice(layer_outputs(xp, params, x, activation), layer - 1, None))


def log_softmax(xp: Any, a: Any) -> Any:
    """Row-wise log-softmax, stable for huge logits (the row max is subtracted first)."""
    shifted = a - xp.max(a, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(xp: Any, a: Any) -> Any:
    shifted = a - xp.max(a, axis=1, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=1, keepdims=True)


def backward(
    xp: Any, params: Params, zs: Sequence[Any], err: Any, activation: str = "relu",
    dropout: Dropout | None = None, input_error: bool = False,
) -> Any:
    """Gradients by error back-propagation in matrix form, from the output error `err`.

    `zs` are the layer outputs of `forward`; `err` is dLoss/d(output logits), the mean's 1/B
    included. For the three tasks' pairs of output layer and loss (softmax and cross-entropy,
    sigmoid and binary cross-entropy, identity and half the squared error) it is
    (y - T) / B, as in scikit-learn's `_backprop` (`fcnn_cli.core.tasks`). From the top:
    dW = Z(l-1)^T E, db = sum(E), then E = (E W^T) * f'(Z(l-1)). The input layer's error is
    formed only with `input_error` (adversarial training needs it): E W0^T, back through the
    inputs' dropout, is dLoss/dx, returned after the gradients as (grads, dx).

    With `dropout` (the masks of the forward pass), a layer whose input H = D(Z) went through
    dropout D (keep flags and scale) takes dW = H^T E, and the error reaching Z goes back
    through the same D: E = D(E W^T) * f'(Z), f' of Z as it was before the mask.
    """
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        z_in = zs[layer]
        drop = None if dropout is None else dropout[layer]
        h_in = z_in if drop is None else regularize.dropout(xp, z_in, *drop)
        grads.append((h_in.T @ err, xp.sum(err, axis=0)))
        if layer > 0 or input_error:
            err = err @ params[layer][0].T
            if drop is not None:
                err = regularize.dropout(xp, err, *drop)
            if layer > 0:
                err = err * activation_derivative(xp, activation, z_in)
    return (grads[::-1], err) if input_error else grads[::-1]
