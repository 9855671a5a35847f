"""The optimizers of `fcnn_cli.core.optim`, applied in place by the numpy backend.

The parameters, their gradients and every optimizer buffer each live in ONE flat, preallocated
array, laid out weights first (W0, W1, ..., then b0, b1, ...): an update is a handful of whole-
array numpy operations with `out=` (no temporaries), and the L2 penalty, which touches weights
only, is one contiguous slice. The (W, b) pairs the backend computes with are views into these
arrays.

A scale factor is folded into the output error before back-propagation (`error_scale`), which
is linear in it, so the gradients arrive already scaled. For SGD it is lr/B; without momentum the
backend makes each weight update inside its gradient's BLAS product (`fused`: W = (1 - lr alpha
/ B) W - lr g, the L2 penalty as gemm's beta), leaving `finish` the biases. For Adam it is
sqrt(1-b2)/B, which makes the second moment's update one square and one add. The algebra is that
of `fcnn_cli.core.optim`, rearranged; tests check the two against each other.

The updates are memory-bound (a dozen passes over every buffer for Adam), so the optimizers with
buffers walk the arrays in chunks of CHUNK_BYTES: all the passes over one chunk of every buffer
run while it is still in the CPU cache, instead of each pass streaming whole arrays from memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli.core.optim import STEP_DTYPE, OptState, Params, kind

if TYPE_CHECKING:
    from fcnn_cli.config.settings import OptimizerSettings

#: bytes of each buffer updated at a time: a chunk of the 4-5 buffers an update touches fits in
#: a core's L2 cache
CHUNK_BYTES = 1 << 17


class FlatLayout:
    """Where each layer's W and b sit in a flat array: all weights first, then all biases."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.shapes = [(fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)]
        self.n_weights = sum(a * b for a, b in self.shapes)
        self.size = self.n_weights + sum(b for _, b in self.shapes)

    def views(self, flat: np.ndarray) -> Params:
        """(W, b) pairs that are views into `flat` (writing to them writes to `flat`)."""
        pairs, w_at, b_at = [], 0, self.n_weights
        for fan_in, fan_out in self.shapes:
            w = flat[w_at : w_at + fan_in * fan_out].reshape(fan_in, fan_out)
            pairs.append((w, flat[b_at : b_at + fan_out]))
            w_at += fan_in * fan_out
            b_at += fan_out
        return pairs

    def empty(self, dtype: np.dtype) -> tuple[np.ndarray, Params]:
        flat = np.empty(self.size, dtype)
        return flat, self.views(flat)


class InPlaceOptimizer:
    """One optimizer updating the flat parameters `params` from the flat gradients `grads`.

    The backend scales its output error by `error_scale(lr, n)` (n: rows in the batch), fills
    `grads` by back-propagation, then calls `update(lr, n)`; `grads` is scratch afterwards.
    """

    def __init__(self, settings: OptimizerSettings, layout: FlatLayout, params: np.ndarray,
                 grads: np.ndarray) -> None:
        self.settings, self.layout = settings, layout
        self.params, self.grads = params, grads
        self.step = 0
        #: SGD's momentum in this epoch: the backend sets it where it rises (schedules.momentum)
        self.momentum = settings.momentum
        self.slots: dict[str, np.ndarray] = {
            name: np.zeros_like(params) for name in self.slot_names}
        # Scratch for the L2 term and Adam's step; not needed by plain SGD without alpha.
        needs_scratch = settings.alpha > 0 or kind(settings) == "adam"
        self._scratch = np.empty_like(params) if needs_scratch else None
        size, step = params.shape[0], max(1, CHUNK_BYTES // params.itemsize)
        self._chunks = [slice(lo, min(lo + step, size)) for lo in range(0, size, step)]

    slot_names: tuple[str, ...] = ()

    #: whether `fused` can ever answer: the backend binds the BLAS routine only then
    can_fuse: bool = False

    def fused(self, lr: float, n: int) -> float | None:
        """Whether this step's weight updates may be made inside the gradients' products: the
        beta for which the backend's W = beta W - Z^T E (E scaled by `error_scale`), for each
        layer's W, leaves `finish` the rest of the update; None when the update needs the
        gradients themselves (the backend then fills `grads` and calls `update`). Either way
        the backend fills the biases' part of `grads`."""
        return None

    def finish(self, lr: float, n: int) -> None:
        """The rest of a step whose weight updates were made inside the products (`fused`)."""
        raise NotImplementedError

    def error_scale(self, lr: float, n: int) -> float:
        raise NotImplementedError

    def update(self, lr: float, n: int) -> None:
        raise NotImplementedError

    def _add_l2(self, scale: float, chunk: slice = slice(None)) -> None:
        """grads += scale * params on the weights within `chunk` (scale: alpha / n times the
        error scale); the biases, which follow all the weights, are left alone."""
        start, stop, _ = chunk.indices(self.params.shape[0])
        weights = slice(start, min(stop, self.layout.n_weights))
        if weights.start >= weights.stop:
            return
        scratch = self._scratch[weights]
        np.multiply(self.params[weights], scale, out=scratch)
        self.grads[weights] += scratch

    def state(self) -> OptState:
        """The state in the shape of `fcnn_cli.core.optim` (views into the live buffers)."""
        return OptState(np.array(self.step, dtype=STEP_DTYPE),
                        {name: self.layout.views(flat) for name, flat in self.slots.items()})

    def load_state(self, state: OptState) -> None:
        """Copy `state` (the shape `state()` returns) into the live buffers."""
        self.step = int(state.step)
        if set(state.slots) != set(self.slots):
            raise ValueError(f"optimizer state holds {sorted(state.slots)}, expected {sorted(self.slots)}")
        for name, pairs in state.slots.items():
            for (w, b), (w_to, b_to) in zip(pairs, self.layout.views(self.slots[name]), strict=True):
                w_to[...], b_to[...] = w, b


class InPlaceSGD(InPlaceOptimizer):
    """optim.sgd in place; the gradients arrive as lr * g (the error scaled by lr / n)."""

    def __init__(self, settings: OptimizerSettings, *args) -> None:
        self.slot_names = ("velocity",) if settings.momentum > 0 else ()
        super().__init__(settings, *args)

    @property
    def can_fuse(self) -> bool:
        # Plain SGD only: with momentum, v = mu v - lr g in the product (gemm's beta = mu) measured
        # no faster than the chunked update, and Nesterov's W += mu v - lr g needs g itself.
        return not self.slot_names

    def fused(self, lr: float, n: int) -> float | None:
        # W - lr (g + alpha W / n) = (1 - lr alpha / n) W - lr g: the L2 penalty is gemm's beta
        beta = 1.0 - lr * self.settings.alpha / n
        return beta if self.can_fuse and beta != 0 else None

    def finish(self, lr: float, n: int) -> None:
        self.step += 1
        biases = slice(self.layout.n_weights, None)  # the weights are done; the biases' lr g:
        self.params[biases] -= self.grads[biases]

    def error_scale(self, lr: float, n: int) -> float:
        return lr / n

    def update(self, lr: float, n: int) -> None:
        s = self.settings
        self.step += 1
        if not self.slot_names:  # plain SGD: the fast path, one subtraction
            if s.alpha:
                self._add_l2(lr * s.alpha / n)
            self.params -= self.grads
            return
        velocity = self.slots["velocity"]
        for chunk in self._chunks:
            params, grads, v = self.params[chunk], self.grads[chunk], velocity[chunk]
            if s.alpha:
                self._add_l2(lr * s.alpha / n, chunk)
            v *= self.momentum
            v -= grads  # v = mu v - lr g
            if s.nesterov:
                params -= grads
                np.multiply(v, self.momentum, out=grads)
                params += grads  # W += mu v - lr g
            else:
                params += v


class InPlaceAdam(InPlaceOptimizer):
    """optim.adam in place; the gradients arrive as sqrt(1-b2) * g (the error scaled by that / n).

    Algorithm 8.9's step lr mhat / (sqrt(vhat) + eps) is computed as
    lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps sqrt(1-b2^t)): the same number, rearranged so that
    the corrections are scalars and the arrays see five passes.
    """

    slot_names = ("m", "v")

    def error_scale(self, lr: float, n: int) -> float:
        return math.sqrt(1 - self.settings.beta2) / n

    def update(self, lr: float, n: int) -> None:
        s = self.settings
        root = math.sqrt(1 - s.beta2)
        self.step += 1
        correction1, correction2 = 1 - s.beta1**self.step, 1 - s.beta2**self.step
        size = lr * math.sqrt(correction2) / correction1
        eps = s.epsilon * math.sqrt(correction2)
        for chunk in self._chunks:
            params, grads, scratch = self.params[chunk], self.grads[chunk], self._scratch[chunk]
            m, v = self.slots["m"][chunk], self.slots["v"][chunk]
            if s.alpha:
                self._add_l2(root * s.alpha / n, chunk)
            np.square(grads, out=scratch)  # (1-b2) g^2
            v *= s.beta2
            v += scratch
            grads *= (1 - s.beta1) / root  # (1-b1) g
            m *= s.beta1
            m += grads
            np.sqrt(v, out=scratch)
            scratch += eps
            np.divide(m, scratch, out=scratch)
            scratch *= size
            params -= scratch


def build(settings: OptimizerSettings, layout: FlatLayout, params: np.ndarray,
          grads: np.ndarray) -> InPlaceOptimizer:
    """The in-place optimizer for `settings` over the flat `params` and `grads`."""
    cls = InPlaceAdam if settings.name == "adam" else InPlaceSGD
    return cls(settings, layout, params, grads)
