"""Example 5.3 on JAX, and the compiled-epoch machinery it shares with Example 5.4 (jax-grad).

The training data is put on the device once. Each epoch is ONE call of an ahead-of-time compiled
XLA program: a `lax.scan` over the full mini-batches of the loop's order (each step gathers its
rows on the device), then one more statically shaped step for the last, smaller batch, which is
kept as in the numpy backend. The parameters and the optimizer's state (`fcnn_cli.core.optim`) are
carried through the scan and donated to that call, so XLA updates them in place instead of
copying them every epoch; the learning rate is a traced argument, so annealing never recompiles.
Scoring a split and predicting are compiled too. Everything is compiled in `__init__` and timed
apart as `compile_seconds`, so the loop's timed epochs contain no compilation. A split is scored
in one call over all its rows (MNIST's 60,000 training rows hold about 200 MB of float32
activations at once).

The two JAX backends differ only in where the gradients come from: `JaxBackend` runs the
hand-written back-propagation of `fcnn_cli.core.model` on `jax.numpy` from the task's output error,
`JaxGradBackend` (`jax_grad_backend.py`) differentiates the task's written loss with `jax.grad`.
The task (`fcnn_cli.core.tasks`) also builds each batch's targets and scores a split.

Both run in the dtype of the run: for float64 the program is traced and run inside
`jax.enable_x64(True)`, a scoped setting, so other JAX code in the same process is unaffected.
"""

from __future__ import annotations

import functools
import time
from abc import abstractmethod
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli.backends import jax_cache
from fcnn_cli.backends.base import Backend, Params, check_state
from fcnn_cli.core import adversarial, model, optim, regularize
from fcnn_cli.devices import describe_device, resolve_device

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.core.tasks import Task
    from fcnn_cli.data.dataset import Dataset

# (params, x, targets, activation, dropout) -> grads
GradientFn = Callable[[Any, Any, Any, str, Any], Any]


# --- the compiled programs (pure functions; the backend binds their static arguments) ----------

def _epoch(gradients: GradientFn, optimizer: optim.Optimizer, task: Task, activation: str,
           batch: int, scales: tuple[float | None, ...] | None, max_norm: float | None,
           params: Any, opt_state: Any, x: Any, y: Any, order: Any, lr: Any, mu: Any,
           keeps: tuple[Any, ...] = ()) -> Any:
    """One epoch of mini-batch updates over the rows of (x, y) in `order`.

    Returns the new (params, optimizer state); both are carried through the scan. With dropout,
    `keeps` holds per layer the epoch's keep flags (rows in the order's positions, None for a
    layer that drops nothing) and `scales` their scales; each step takes its batch's rows.
    `max_norm`: the bound on each hidden unit's incoming weights after every update.
    """
    import jax
    import jax.numpy as jnp

    def step(carry: tuple[Any, Any], batch_rows: tuple[Any, Any]) -> tuple[tuple[Any, Any], None]:
        params, opt_state = carry
        idx, batch_keeps = batch_rows
        # `order` is a permutation of the rows, so the gather may skip bounds handling.
        xb = x.at[idx].get(mode="promise_in_bounds")
        tb = task.train_targets(jnp, xb, y.at[idx].get(mode="promise_in_bounds"))
        dropout = None if scales is None else [
            None if k is None else (k, f) for k, f in zip(batch_keeps, scales, strict=True)]
        grads = gradients(params, xb, tb, activation, dropout)
        updates, opt_state = optimizer.update(grads, opt_state, params, lr, idx.shape[0], mu)
        params = optim.apply_updates(params, updates)
        if max_norm is not None:
            params = regularize.max_norm(jnp, params, max_norm)
        return (params, opt_state), None

    def rows(a: Any, lo: int, hi: int, shape: tuple[int, ...]) -> Any:
        return None if a is None else a[lo:hi].reshape(*shape, *a.shape[1:])

    n_full, rest = divmod(order.shape[0], batch)
    full = n_full * batch
    keeps = keeps or (None,) * (len(scales) if scales is not None else 0)
    carry = (params, opt_state)
    carry, _ = jax.lax.scan(step, carry, (order[:full].reshape(n_full, batch),
                                          tuple(rows(k, 0, full, (n_full, batch)) for k in keeps)))
    if rest:  # the last, smaller batch: a second, statically shaped step
        carry, _ = step(carry, (order[full:], tuple(rows(k, full, None, (rest,)) for k in keeps)))
    return carry


def _score(task: Task, activation: str, params: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """(summed loss, number correct or None) over the rows of (x, y)."""
    import jax.numpy as jnp

    return task.score(jnp, model.logits(jnp, params, x, activation), x, y)


def _predict(task: Task, activation: str, params: Any, x: Any) -> Any:
    """The task's prediction for the rows of `x` (labels, or reconstructions)."""
    import jax.numpy as jnp

    return task.predict(jnp, model.logits(jnp, params, x, activation))


def _x64_scope(method: Callable) -> Callable:
    """Run a backend method with JAX's 64-bit mode set for this run's dtype, and restore it."""

    @functools.wraps(method)
    def wrapper(self: CompiledEpochBackend, *args: Any, **kwargs: Any) -> Any:
        import jax

        with jax.enable_x64(self._x64):
            return method(self, *args, **kwargs)

    return wrapper


class CompiledEpochBackend(Backend):
    """A JAX backend whose epoch, scoring and prediction are each one compiled XLA call.

    Subclasses supply only `gradients`: the gradient of the task's mean loss on one batch.
    """

    @staticmethod
    @abstractmethod
    def gradients(task: Task, params: Any, x: Any, targets: Any, activation: str,
                  dropout: Any = None, input_error: bool = False) -> Any:
        """d(task's mean loss)/d(params) on one batch, as (dW, db) pairs like `params`; with
        `dropout`, the batch's masks (model.forward's form); with `input_error`, (those,
        d(mean loss)/dx) (adversarial training)."""

    def __init__(self, settings: Settings, data: Dataset) -> None:
        super().__init__(settings, data)
        self._x64 = settings.dtype == "float64"
        self._compiled: dict[Hashable, Any] = {}
        self._setup()

    @_x64_scope
    def _setup(self) -> None:
        import jax

        jax_cache.enable()  # before anything is compiled
        self._device = resolve_device(self.settings.device)
        put = functools.partial(jax.device_put, device=self._device)
        self._dtype = np.dtype(self.settings.dtype)
        # Every split on the device once; labels as int32 indices.
        self._splits = {}
        for name in ("train", "val", "test"):
            if self.data.has_split(name):
                x, y = self.data.split(name)
                self._splits[name] = (put(x), put(np.asarray(y, dtype=np.int32)))
        self.params = put(self.initial_params())
        optimizer = optim.build(self.settings.optimizer, jax.numpy)
        self.opt_state = put(optimizer.init(self.params))
        activation, task = self.settings.activation, self.task
        batch = min(self.settings.batch_size, self.data.n_train)
        gradients = functools.partial(type(self).gradients, task)
        if self.settings.adversarial_eps:  # adversarial.*: the objective's gradients instead
            gradients = adversarial.training_gradients(
                gradients, jax.numpy, self.settings.adversarial_eps,
                self.settings.adversarial_norm, self.settings.adversarial_weight)
        scales = None if self.dropout_scales is None else tuple(self.dropout_scales)
        self._programs = {
            "epoch": jax.jit(
                functools.partial(_epoch, gradients, optimizer, task, activation, batch, scales,
                                  self.settings.max_norm),
                donate_argnums=(0, 1),
            ),
            "score": jax.jit(functools.partial(_score, task, activation)),
            "predict": jax.jit(functools.partial(_predict, task, activation)),
        }
        # Compile now, for the shapes the loop and `fcnn train` will use, so no compilation
        # lands inside the timed epochs.
        x_train, y_train = self._splits["train"]
        self._program("epoch", self.params, self.opt_state, x_train, y_train,
                      put(np.arange(self.data.n_train, dtype=np.int32)), self._lr(0.0),
                      self._lr(0.0), *self._keeps(all_kept=True))
        for x, y in self._splits.values():
            self._program("score", self.params, x, y)
        if "test" in self._splits:  # what `fcnn train` predicts, timed
            self._program("predict", self.params, self._splits["test"][0])

    def _keeps(self, all_kept: bool = False) -> tuple[Any, ...]:
        """The epoch program's dropout argument: () without dropout, else a 1-tuple of the
        epoch's keep flags per layer on the device (`all_kept`: flags of the right shapes that
        keep everything, to compile with)."""
        import jax

        if self.dropout_scales is None:
            return ()
        masks = self.dropout_masks if not all_kept else [
            None if p == 0 else np.ones((self.data.n_train, width),
                                        regularize.mask_dtype(self.settings.dropout_noise))
            for width, p in zip(self.task.sizes(), self.dropout_rates, strict=False)]
        return (jax.device_put(tuple(masks), self._device),)

    def _lr(self, lr: float) -> np.ndarray:
        """A rate (or momentum) as the epoch program's traced scalar: changing it recompiles
        nothing."""
        return np.asarray(lr, dtype=self._dtype)

    def _program(self, name: str, *args: Any) -> Any:
        """The compiled program `name` for the shapes of `args`, compiled (and timed) on first use."""
        import jax

        key = (name, *((a.shape, str(a.dtype)) for a in jax.tree.leaves(args)))
        if key not in self._compiled:
            start = time.perf_counter()
            self._compiled[key] = self._programs[name].lower(*args).compile()
            self.compile_seconds += time.perf_counter() - start
        return self._compiled[key]

    @property
    def device(self) -> str:
        return describe_device(self._device)

    @_x64_scope
    def train_epoch(self, order: np.ndarray, lr: float, momentum: float | None = None) -> None:
        import jax

        order = jax.device_put(np.asarray(order, dtype=np.int32), self._device)
        x, y = self._splits["train"]
        if self.train_x is not self.data.x_train:  # augment.*: this epoch's images
            x = jax.device_put(self.train_x, self._device)
        args = (self.params, self.opt_state, x, y, order, self._lr(lr),
                self._lr(self.epoch_momentum(momentum)),
                *self._keeps())
        self.params, self.opt_state = self._program("epoch", *args)(*args)

    @_x64_scope
    def evaluate(self, split: str) -> tuple[float, float | None]:
        if split not in self._splits:
            raise ValueError(f"this dataset has no {split!r} split")
        x, y = self._splits[split]
        loss, correct = self._program("score", self.params, x, y)(self.params, x, y)
        return float(loss) / x.shape[0], None if correct is None else int(correct) / x.shape[0]

    @_x64_scope
    def predict(self, x: np.ndarray) -> np.ndarray:
        import jax

        x = jax.device_put(np.asarray(x, dtype=self._dtype), self._device)
        return np.asarray(self._program("predict", self.params, x)(self.params, x))

    @_x64_scope
    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        # np.array copies: the device buffers are donated to (and reused by) the next epoch.
        return [(np.array(w), np.array(b)) for w, b in self.params]

    @_x64_scope
    def get_opt_state(self) -> optim.OptState:
        """A copy of the optimizer's state as numpy arrays, in the shape of `fcnn_cli.core.optim`."""
        return optim.state_from_arrays(optim.state_arrays(self.opt_state))

    @_x64_scope
    def set_state(self, params: Params, opt_state: optim.OptState) -> None:
        import jax

        check_state(params, opt_state, self.get_params(), self.get_opt_state().slots)

        def fresh(a: Any, dtype: Any) -> np.ndarray:
            # A copy in the run's dtype: the device buffers made from it are donated to the
            # next epoch, and must not share memory with anything else.
            return np.array(a, dtype=dtype, copy=True)

        put = functools.partial(jax.device_put, device=self._device)
        self.params = put([(fresh(w, self._dtype), fresh(b, self._dtype)) for w, b in params])
        slots = {name: [(fresh(w, self._dtype), fresh(b, self._dtype)) for w, b in pairs]
                 for name, pairs in opt_state.slots.items()}
        self.opt_state = put(optim.OptState(fresh(opt_state.step, optim.STEP_DTYPE), slots))


class JaxBackend(CompiledEpochBackend):
    """Example 5.3: the hand-written back-propagation of `fcnn_cli.core.model` on jax.numpy."""

    name = "jax"

    @staticmethod
    def gradients(task: Task, params: Any, x: Any, targets: Any, activation: str,
                  dropout: Any = None, input_error: bool = False) -> Any:
        import jax.numpy as jnp

        return task.gradients(jnp, params, x, targets, activation, dropout, input_error)
