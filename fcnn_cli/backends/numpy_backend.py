"""Example 5.2: the FCNN trained by hand-written back-propagation in numpy.

The formulas are those of `fcnn_cli.core.model`, run in place: every activation and error buffer is
allocated once and reused, matrix products write into them with `out=`, and no per-sample
outer-product tensor is formed. The output error E = y - T comes from the task (softmax,
sigmoid or identity output; `fcnn_cli.core.tasks`), written into its buffer. The parameters and their
gradients each live in one flat buffer (the (W, b) pairs are views into it), and the optimizer
(`numpy_optim`) updates them in place. A scale is folded into the output error once:
back-propagation is linear in E, so every gradient arrives already scaled; for SGD the scale is
lr/B, and plain SGD's update of each weight matrix (the L2 penalty included) is made inside its
gradient's BLAS product (`blas.py`, `numpy_optim.InPlaceOptimizer.fused`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli.backends import blas, fpenv, numpy_optim
from fcnn_cli.backends.base import BATCH_HOOK_EVERY, Backend, Params, check_state
from fcnn_cli.config.backends import NUMPY_EVAL_ROWS
from fcnn_cli.core import adversarial, model, optim, regularize

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

# Rows scored at a time when evaluating a whole split: large enough for efficient matrix
# products, small enough to keep the activation buffers bounded.
EVAL_CHUNK = NUMPY_EVAL_ROWS


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self, settings: Settings, data: Dataset) -> None:
        super().__init__(settings, data)
        self.activation = settings.activation
        self._activation = model.ACTIVATIONS[settings.activation]  # its in-place forms
        dtype = np.dtype(settings.dtype)
        sizes = self.task.sizes()
        layout = numpy_optim.FlatLayout(sizes)
        # Parameters and gradients: one flat buffer each, (W, b) views into it.
        flat_params, self.params = layout.empty(dtype)
        for (w, b), (w0, b0) in zip(self.params, self.initial_params(), strict=True):
            w[...], b[...] = w0, b0
        flat_grads, grads = layout.empty(dtype)
        self._optimizer = numpy_optim.build(settings.optimizer, layout, flat_params, flat_grads)
        # Plain SGD: each weight gradient goes into its update inside its product (blas.py;
        # numpy_optim's `fused`): no gradient buffer, no update pass over the weights.
        self._subtract_product = blas.subtract_product(dtype.name) if self._optimizer.can_fuse else None
        batch = min(settings.batch_size, data.n_train)
        # zs[l] is the output of layer l (zs[0] the gathered input batch); errs[l] its error.
        self._zs = [np.empty((batch, n), dtype) for n in sizes]
        self._errs = [np.empty((batch, n), dtype) for n in sizes]
        self._eval = [np.empty((EVAL_CHUNK, n), dtype) for n in sizes[1:]]
        self._wgrad = [w for w, _ in grads]
        self._bgrad = [b for _, b in grads]
        # Dropout: a layer's masked input in a buffer of its own (the backward pass needs both).
        self._hs = [np.empty((batch, n), dtype) if p else None
                    for n, p in zip(sizes, self.dropout_rates, strict=False)]
        self._max_norm = settings.max_norm
        # adversarial.*: (eps, norm, weight), None when off; the moved inputs and a second set
        # of gradients (added to the first) get buffers of their own.
        self._adversarial = None
        if settings.adversarial_eps:
            self._adversarial = (settings.adversarial_eps, settings.adversarial_norm,
                                 settings.adversarial_weight)
            self._moved = np.empty((batch, sizes[0]), dtype)
            self._scratch = layout.empty(dtype)[1]
        self._batch_at = 0  # the position in the epoch's order of the batch `_step` trains

    def _forward(self, x: np.ndarray, outs: list[np.ndarray], masked: list | None = None
                 ) -> np.ndarray:
        """Forward pass of the rows of `x` into the preallocated `outs`; returns the logits.
        `masked` (training with dropout): per layer, None or (keep, scale, buffer): its input
        goes through the mask into the buffer (regularize.dropout, in place)."""
        n, z = x.shape[0], x
        last = len(self.params) - 1
        for layer, (w, b) in enumerate(self.params):
            if masked is not None and masked[layer] is not None:
                keep, factor, buffer = masked[layer]
                z = _dropout_into(z, keep, factor, buffer)
            out = outs[layer][:n]
            np.matmul(z, w, out=out)
            out += b
            if layer < last:
                self._activation.apply_inplace(out)
            z = out
        return z

    def _step(self, idx: np.ndarray, lr: float) -> None:
        n, start = idx.shape[0], self._batch_at
        zs = [z[:n] for z in self._zs]
        np.take(self.train_x, idx, axis=0, out=zs[0])
        drop = self.batch_dropout(slice(start, start + n))  # None without dropout
        masked = None if drop is None else [
            None if d is None else (*d, h[:n]) for d, h in zip(drop, self._hs, strict=False)]
        y = self.data.y_train[idx]
        # Times 1/B (the mean) and the optimizer's scale (lr for SGD): gradients arrive scaled.
        scale = self._optimizer.error_scale(lr, n)
        if self._adversarial is None:
            # beta when the weights are updated inside the gradients' products (the buffers'
            # row slices are C-contiguous), else None
            beta = None if self._subtract_product is None else self._optimizer.fused(lr, n)
            self._backward(zs, masked, self._output_error(zs, zs[0], y, masked, scale), beta)
        else:  # never inside the products: both passes run through the same weights
            beta = None
            eps, norm, weight = self._adversarial
            # (1 - w) L(x): its gradients, and its error carried down to the inputs
            err = self._output_error(zs, zs[0], y, masked, scale * (1 - weight))
            g = self._errs[0][:n]
            self._backward(zs, masked, err, None, input_error=g)
            # + w L(x + r), same targets (the clean x's) and masks, added to the gradients
            moved = self._moved[:n]
            np.add(zs[0], adversarial.perturbation(np, g, eps, norm), out=moved)
            moved_zs = [moved, *zs[1:]]
            err = self._output_error(moved_zs, zs[0], y, masked, scale * weight)
            self._backward(moved_zs, masked, err, None, accumulate=True)
        if beta is not None:
            self._optimizer.finish(lr, n)
        else:
            self._optimizer.update(lr, n)
        if self._max_norm is not None:
            regularize.max_norm_inplace(self.params, self._max_norm)

    def _output_error(self, zs: list[np.ndarray], x: np.ndarray, y: np.ndarray,
                      masked: list | None, scale: float) -> np.ndarray:
        """Forward pass of zs[0] into zs[1:], then the output error E = y - T (the task's,
        against the targets of the inputs `x`), times `scale`, in its buffer."""
        logits = self._forward(zs[0], zs[1:], masked)
        err = self._errs[-1][: zs[0].shape[0]]
        self.task.numpy_output_error(logits, x, y, out=err)
        err *= scale
        return err

    def _backward(self, zs: list[np.ndarray], masked: list | None, err: np.ndarray,
                  beta: float | None, input_error: np.ndarray | None = None,
                  accumulate: bool = False) -> None:
        """Back-propagate the output error `err` of the forward pass that filled `zs`: into the
        gradient buffers, or added to them (`accumulate`), or (`beta`) into the weights
        themselves. `input_error`: a buffer for the error at the inputs, dLoss/dx."""
        n = err.shape[0]
        for layer in range(len(self.params) - 1, -1, -1):
            w = self.params[layer][0]
            below = None
            if layer > 0 or input_error is not None:  # else the input's error is not needed
                # Passed down through the current weights; the update comes after the pass.
                below = self._errs[layer][:n] if layer > 0 else input_error
                np.matmul(err, w.T, out=below)
                if masked is not None and masked[layer] is not None:  # back through the mask
                    _dropout_into(below, *masked[layer][:2], below)
                if layer > 0:
                    self._activation.times_derivative_inplace(below, zs[layer])
            z_in = zs[layer] if masked is None or masked[layer] is None else masked[layer][2]
            if accumulate:  # a second loss's gradients, added to the first's
                dw, db = self._scratch[layer]
                np.sum(err, axis=0, out=db)
                self._bgrad[layer] += db
                np.matmul(z_in.T, err, out=dw)
                self._wgrad[layer] += dw
            else:
                np.sum(err, axis=0, out=self._bgrad[layer])  # scale * db
                if beta is not None:  # W = beta W - Z^T (scale E) in one BLAS call (after
                    self._subtract_product(z_in, err, w, beta)  # the pass through W above)
                else:
                    np.matmul(z_in.T, err, out=self._wgrad[layer])  # scale * dW
            err = below

    def train_epoch(self, order: np.ndarray, lr: float, momentum: float | None = None) -> None:
        self._optimizer.momentum = self.epoch_momentum(momentum)
        batch = self.settings.batch_size
        # A diverging run overflows; the loop detects that from the loss and stops cleanly.
        # Subnormals are flushed to zero, as XLA does on the CPU (fpenv: Adam's decaying moments
        # would otherwise sink into the CPU's slow path).
        hook, n = self.batch_hook, order.shape[0]
        with np.errstate(over="ignore", invalid="ignore"), fpenv.flush_subnormals():
            for i, start in enumerate(range(0, n, batch), 1):
                self._batch_at = start  # where the batch's dropout masks are
                self._step(order[start : start + batch], lr)
                if hook is not None and i % BATCH_HOOK_EVERY == 0:
                    hook(min(start + batch, n))

    def _chunks(self, x: np.ndarray):
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, x.shape[0], EVAL_CHUNK):
                yield start, self._forward(x[start : start + EVAL_CHUNK], self._eval)

    def evaluate(self, split: str) -> tuple[float, float | None]:
        x, y = self.data.split(split)
        total_loss, correct = 0.0, 0
        for start, logits in self._chunks(x):
            end = start + logits.shape[0]
            loss, right = self.task.score(np, logits, x[start:end], y[start:end])
            total_loss += float(loss)
            correct = None if right is None else correct + int(right)
        return total_loss / x.shape[0], None if correct is None else correct / x.shape[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.settings.dtype)
        # copy: a chunk's logits live in a reused buffer (a reconstruction would be overwritten).
        return np.concatenate([self.task.predict(np, logits).copy() for _, logits in self._chunks(x)])

    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(w.copy(), b.copy()) for w, b in self.params]

    def get_opt_state(self) -> optim.OptState:
        """A copy of the optimizer's state, in the shape of `fcnn_cli.core.optim`."""
        return optim.state_from_arrays(optim.state_arrays(self._optimizer.state()))

    def set_state(self, params: Params, opt_state: optim.OptState) -> None:
        check_state(params, opt_state, self.params, self._optimizer.state().slots)
        for (w, b), (w_from, b_from) in zip(self.params, params, strict=True):
            w[...], b[...] = w_from, b_from  # into the flat buffer the optimizer updates
        self._optimizer.load_state(opt_state)


def _dropout_into(z: np.ndarray, keep: np.ndarray, factor: float, out: np.ndarray) -> np.ndarray:
    """regularize.dropout(np, z, keep, factor) written into `out` (which may be z); `keep` holds
    flags or gaussian multipliers."""
    np.multiply(z, keep, out=out)
    if factor != 1.0:  # gaussian multipliers carry their own scale
        out *= factor
    return out


# By name, for what times the backend's steps one by one (commands/bench/profile.py) and its tests.
def _activate_inplace(name: str, a: np.ndarray) -> None:
    """a <- f(a), the activation `name` in place (model.ACTIVATIONS)."""
    model.ACTIVATIONS[name].apply_inplace(a)


def _times_derivative_inplace(name: str, err: np.ndarray, z: np.ndarray) -> None:
    """err *= f'(z), with f' written in terms of the activation's output z (model.ACTIVATIONS)."""
    model.ACTIVATIONS[name].times_derivative_inplace(err, z)
