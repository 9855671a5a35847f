"""The optimizers, written once as pure functions over an array namespace (numpy or jax.numpy).

In optax's shape: an optimizer is an `(init, update)` pair.

    opt = build(settings.optimizer, xp)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params, lr, n)   # n: rows in this batch
    updates, state = opt.update(grads, state, params, lr, n, mu)   # SGD at momentum mu
    params = apply_updates(params, updates)

`grads` are the mean gradients of the data loss over the batch, as (dW, db) pairs like `params`.
`lr` is an argument of every update, so the loop's learning-rate annealing applies to every
optimizer (and the JAX backends keep it a traced value: no recompilation between epochs).
The state is explicit data, an `OptState` (a pytree of arrays); `state_arrays` flattens it into
names -> arrays (for a flat npz checkpoint) and `state_from_arrays` rebuilds it.

The settings mean what they mean in scikit-learn's MLPClassifier, so one config trains the same
way on backend=sklearn and on the from-scratch backends:

- alpha (L2 penalty, MLPClassifier's `_backprop`): the weight gradients, not the biases, gain
  `alpha * W / n`, n the number of rows in the batch (the data loss gains 0.5 alpha |W|^2 / n).
- SGD with momentum mu (MLPClassifier's `SGDOptimizer`): the velocity holds the step, learning
  rate included: `v = mu v - lr g`, then `W += v`; with Nesterov, `W += mu v - lr g` (the new v).
  momentum 0 is plain mini-batch SGD (Algorithm 8.8), `W -= lr g`, and keeps no velocity.
- Adam: Algorithm 8.9 of the lab, `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`,
  `mhat = m / (1-b1^t)`, `vhat = v / (1-b2^t)`, `W -= lr mhat / (sqrt(vhat) + eps)`, t counting
  updates. This is optax.adam exactly. scikit-learn's `AdamOptimizer` differs in one place: it
  folds both corrections into the step size, `W -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)`,
  which is Algorithm 8.9 with eps replaced by `eps sqrt(1-b2^t)`. Here the algorithm is followed;
  the two agree exactly for eps = 0 and differ by at most a few eps in the denominator.

numpy applies these same updates in place on flat buffers (`backends/numpy_optim.py`, tested
against the functions here); the JAX backends run the functions here inside their compiled epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from fcnn_cli.core.model import Params

if TYPE_CHECKING:
    from fcnn_cli.config.settings import OptimizerSettings

#: The per-parameter buffers each optimizer keeps, by name (the keys of `OptState.slots`).
SLOTS = {"sgd": (), "momentum": ("velocity",), "adam": ("m", "v")}
#: dtype of the update counter, the same on every backend (JAX has no int64 without x64 mode).
STEP_DTYPE = "int32"


class OptState(NamedTuple):
    """An optimizer's state: the number of updates applied, and its per-parameter buffers.

    `slots` maps a buffer's name to (W, b) pairs shaped like the parameters: {} for plain SGD,
    {"velocity": ...} for SGD with momentum, {"m": ..., "v": ...} for Adam.
    """

    step: Any
    slots: dict[str, Params]


class Optimizer(NamedTuple):
    """An `(init, update)` pair; `slots` names the buffers its state keeps."""

    init: Callable[[Params], OptState]
    update: Callable[..., tuple[Params, OptState]]
    slots: tuple[str, ...]


def kind(settings: OptimizerSettings) -> str:
    """'sgd' (plain), 'momentum' (SGD with a velocity) or 'adam'."""
    if settings.name == "adam":
        return "adam"
    return "momentum" if settings.momentum > 0 else "sgd"


def describe(settings: Any) -> str:
    """A short name for tables: 'sgd', 'sgd momentum 0.9', 'sgd nesterov 0.9', 'adam', each
    followed by ' alpha A' when there is an L2 penalty. `settings`: OptimizerSettings or a mapping
    of the same keys (a run's config)."""
    get = settings.get if isinstance(settings, Mapping) else lambda key, default=None: getattr(
        settings, key, default)
    name = str(get("name", "sgd"))
    momentum = get("momentum", 0) or 0
    if name == "sgd" and momentum:
        name += f" {'nesterov' if get('nesterov', False) else 'momentum'} {momentum:g}"
        if get("momentum_epochs", 0):
            name += f" (from {get('momentum_start', 0.5):g} over {get('momentum_epochs'):g} epochs)"
    alpha = get("alpha", 0) or 0
    return f"{name} alpha {alpha:g}" if alpha else name


def apply_updates(params: Params, updates: Params) -> Params:
    """params + updates, pair by pair."""
    return [(w + dw, b + db) for (w, b), (dw, db) in zip(params, updates, strict=True)]


def add_l2(grads: Params, params: Params, alpha: float, n: int) -> Params:
    """MLPClassifier's L2 penalty: every weight gradient gains alpha * W / n; biases are free."""
    if not alpha:
        return grads
    return [(dw + (alpha / n) * w, db) for (dw, db), (w, _) in zip(grads, params, strict=True)]


def _init(xp: Any, slots: tuple[str, ...]) -> Callable[[Params], OptState]:
    def init(params: Params) -> OptState:
        zeros = {name: [(xp.zeros_like(w), xp.zeros_like(b)) for w, b in params] for name in slots}
        return OptState(xp.zeros((), dtype=STEP_DTYPE), zeros)

    return init


def _map(fn: Callable[..., Any], *trees: Params) -> Params:
    """fn applied leaf by leaf over (W, b) pair lists of the same shape."""
    return [tuple(fn(*leaves) for leaves in zip(*pairs, strict=True))
            for pairs in zip(*trees, strict=True)]


def sgd(xp: Any, momentum: float = 0.0, nesterov: bool = False, alpha: float = 0.0) -> Optimizer:
    """Mini-batch SGD, with momentum or Nesterov momentum as scikit-learn's SGDOptimizer."""
    slots = SLOTS["momentum" if momentum > 0 else "sgd"]

    def update(grads: Params, state: OptState, params: Params, lr: Any, n: int,
               mu: Any = None) -> tuple[Params, OptState]:
        # mu: this step's momentum where it changes over training (schedules.momentum), else
        # the constant given to sgd()
        mu = momentum if mu is None else mu
        grads = add_l2(grads, params, alpha, n)
        if not slots:
            return _map(lambda g: -lr * g, grads), OptState(state.step + 1, {})
        velocity = _map(lambda v, g: mu * v - lr * g, state.slots["velocity"], grads)
        updates = _map(lambda v, g: mu * v - lr * g, velocity, grads) if nesterov else velocity
        return updates, OptState(state.step + 1, {"velocity": velocity})

    return Optimizer(_init(xp, slots), update, slots)


def adam(xp: Any, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
         alpha: float = 0.0) -> Optimizer:
    """Adam as Algorithm 8.9 (bias-corrected moments; eps added to sqrt(vhat)).

    The step lr mhat / (sqrt(vhat) + eps) is computed as
    lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps sqrt(1-b2^t)): the same number, rearranged so
    that the corrections are scalars and each weight sees one square root and one division.
    """
    slots = SLOTS["adam"]

    def update(grads: Params, state: OptState, params: Params, lr: Any, n: int,
               mu: Any = None) -> tuple[Params, OptState]:
        del mu  # Adam keeps no momentum to vary
        grads = add_l2(grads, params, alpha, n)
        step = state.step + 1
        t = step.astype(grads[0][0].dtype)  # the corrections in the parameters' precision
        root2 = xp.sqrt(1 - beta2**t)
        size, eps = lr * root2 / (1 - beta1**t), epsilon * root2
        m = _map(lambda m, g: beta1 * m + (1 - beta1) * g, state.slots["m"], grads)
        v = _map(lambda v, g: beta2 * v + (1 - beta2) * (g * g), state.slots["v"], grads)
        updates = _map(lambda m, v: -size * m / (xp.sqrt(v) + eps), m, v)
        return updates, OptState(step, {"m": m, "v": v})

    return Optimizer(_init(xp, slots), update, slots)


def build(settings: OptimizerSettings, xp: Any) -> Optimizer:
    """The optimizer described by `settings`, over the array namespace `xp`."""
    if settings.name == "adam":
        return adam(xp, settings.beta1, settings.beta2, settings.epsilon, settings.alpha)
    return sgd(xp, settings.momentum, settings.nesterov, settings.alpha)


# --- the flat form: names -> arrays ---------------------------------------------------------------

def state_arrays(state: OptState) -> dict[str, np.ndarray]:
    """The state as flat numpy arrays: "step", and "<slot>.W<i>", "<slot>.b<i>" per layer i.

    The names follow model.npz's "W0, b0, ..." so that a checkpoint can hold both side by side;
    `state_from_arrays` inverts this exactly (the arrays are copied, never rounded).
    """
    arrays = {"step": np.array(state.step, dtype=STEP_DTYPE)}
    for name, pairs in state.slots.items():
        for i, (w, b) in enumerate(pairs):
            arrays[f"{name}.W{i}"], arrays[f"{name}.b{i}"] = np.array(w), np.array(b)
    return arrays


def state_from_arrays(arrays: Mapping[str, Any]) -> OptState:
    """The OptState whose flat form is `arrays` (as written by `state_arrays`)."""
    slots: dict[str, Params] = {}
    names = sorted({key.split(".")[0] for key in arrays if "." in key})
    for name in names:
        n_layers = sum(1 for key in arrays if key.startswith(f"{name}.W"))
        slots[name] = [(np.array(arrays[f"{name}.W{i}"]), np.array(arrays[f"{name}.b{i}"]))
                       for i in range(n_layers)]
    return OptState(np.array(arrays["step"], dtype=STEP_DTYPE), slots)
