"""`fcnn bench profile=true`: where one mini-batch step of the timing job goes, per backend.

numpy: the real step is timed over a run of batches (`train_epoch`), then each of its parts alone,
on the backend's own buffers and in the order `NumpyBackend._step` runs them: the gather of the
batch, the forward products, bias and activation, the output error (with the 1/B scale), the
backward products (errors passed down, weight gradients), the activation's derivative, the bias
gradients and the optimizer's update (with plain SGD the weights' update is in the backward
products, `blas.py`, and the update row is the biases'). What the parts leave of the step is
Python's and numpy's per-call overhead ("the rest").

jax, jax-grad: the compiled epoch is timed and divided by its steps; then, each compiled as a
`lax.scan` over as many steps so that the per-call dispatch is spread out as in the epoch: the
gather of the batch, the gather plus the step's matrix products (the products' inputs chained
from the gathered batch, so XLA can neither hoist nor drop them), and the optimizer's update.
What they leave of the epoch's step is the elementwise work and the loop ("the rest").

Every figure is the best of `repeats` (a neighbour's load only ever slows a measurement), in
milliseconds per step; scoring the training set for curves A and C is shown per epoch beside its
products alone (the gemm floor's scoring sequences).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

STEPS = 60  # mini-batch steps per timed run of a step or a part


def best_per_call(fn: Callable[[], Any], calls: int, repeats: int) -> float:
    """Seconds per call of `fn`: the best over `repeats` of the mean over `calls` calls."""
    fn()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _row(part: str, ms: float, step_ms: float) -> dict[str, Any]:
    return {"part": part, "ms": ms, "share": ms / step_ms if step_ms > 0 else 0.0}


def _scoring(backend: Any, gemm_scoring_ms: float, repeats: int) -> dict[str, float]:
    seconds = best_per_call(lambda: backend.evaluate("train"), 1, repeats)
    return {"ms": 1e3 * seconds, "products_ms": gemm_scoring_ms}


def profile_numpy(settings: Settings, data: Dataset, repeats: int, gemm_scoring_ms: float
                  ) -> dict[str, Any]:
    from fcnn_cli import backends
    from fcnn_cli.backends import fpenv
    from fcnn_cli.backends import numpy_backend as nb

    b = backends.create(settings, data)
    batch = min(settings.batch_size, data.n_train)
    order = np.random.default_rng(0).permutation(data.n_train)
    steps = max(1, min(STEPS, data.n_train // batch))
    lr = settings.lr
    step = 1e3 * best_per_call(lambda: b.train_epoch(order[: steps * batch], lr), 1, repeats) / steps
    idx = order[:batch]
    n = idx.shape[0]
    zs = [z[:n] for z in b._zs]
    errs = [e[:n] for e in b._errs]
    last = len(b.params) - 1
    y = data.y_train

    def gather() -> None:
        np.take(b.train_x if hasattr(b, "train_x") else data.x_train, idx, axis=0, out=zs[0])

    def forward_products() -> None:
        for layer, (w, _) in enumerate(b.params):
            np.matmul(zs[layer], w, out=zs[layer + 1])

    def bias_activation() -> None:
        for layer, (_, bias) in enumerate(b.params):
            zs[layer + 1] += bias
            if layer < last:
                nb._activate_inplace(b.activation, zs[layer + 1])

    def output_error() -> None:
        b.task.numpy_output_error(zs[-1], zs[0], y[idx], out=errs[-1])
        errs[-1] *= b._optimizer.error_scale(lr, n)

    # Where the backend folds the update into the product (plain SGD: W = beta W - Z^T E, beta
    # carrying an L2 penalty), the profile makes the very same calls.
    fused = getattr(b, "_subtract_product", None)
    beta = None if fused is None else b._optimizer.fused(lr, n)

    def backward_products() -> None:
        for layer in range(last, -1, -1):
            if layer > 0:
                np.matmul(errs[layer + 1], b.params[layer][0].T, out=errs[layer])
            if beta is not None:
                fused(zs[layer], errs[layer + 1], b.params[layer][0], beta)
            else:
                np.matmul(zs[layer].T, errs[layer + 1], out=b._wgrad[layer])

    def derivative() -> None:
        for layer in range(last, 0, -1):
            nb._times_derivative_inplace(b.activation, errs[layer], zs[layer])

    def bias_gradients() -> None:
        for layer in range(last, -1, -1):
            np.sum(errs[layer + 1], axis=0, out=b._bgrad[layer])

    def update() -> None:
        if beta is not None:  # the weights' is in the backward products
            b._optimizer.finish(lr, n)
        else:
            b._optimizer.update(lr, n)

    parts = [("gather", gather), ("products, forward", forward_products),
             ("bias + activation", bias_activation), ("output error", output_error),
             ("products, backward", backward_products), ("activation derivative", derivative),
             ("bias gradients", bias_gradients), ("update", update)]
    rows = []
    with np.errstate(over="ignore", invalid="ignore"), fpenv.flush_subnormals():
        for part, fn in parts:
            rows.append(_row(part, 1e3 * best_per_call(fn, steps, repeats), step))
    rest = step - sum(r["ms"] for r in rows)
    rows.append(_row("the rest (Python, numpy's per-call overhead)", rest, step))
    return {"step_ms": step, "batch": batch, "rows": rows,
            "scoring": _scoring(b, gemm_scoring_ms, repeats)}


def profile_jax(settings: Settings, data: Dataset, repeats: int, gemm_scoring_ms: float
                ) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from fcnn_cli import backends
    from fcnn_cli.core import optim

    b = backends.create(settings, data)
    batch = min(settings.batch_size, data.n_train)
    full = data.n_train // batch
    order = np.random.default_rng(0).permutation(data.n_train)

    def epoch() -> None:
        b.train_epoch(order, settings.lr)
        jax.block_until_ready(b.params)

    step = 1e3 * best_per_call(epoch, 1, repeats) / (data.n_train / batch)
    steps = max(1, min(STEPS * 10, full))
    x, _ = b._splits["train"]
    idx = jnp.asarray(order[: steps * batch].reshape(steps, batch), dtype=jnp.int32)
    params = b.params

    def only_gather(x, idx):
        def body(carry, i):
            return x.at[i].get(mode="promise_in_bounds"), None
        return jax.lax.scan(body, jnp.zeros((batch, x.shape[1]), x.dtype), idx)[0]

    def gather_and_products(params, x, idx):
        ws = [w for w, _ in params]

        def body(carry, i):
            xb = x.at[i].get(mode="promise_in_bounds")
            zs = [xb]
            for w in ws:
                zs.append(zs[-1] @ w)
            err, grads = zs[-1], []
            for layer in range(len(ws) - 1, -1, -1):
                grads.append(zs[layer].T @ err)
                if layer > 0:
                    err = err @ ws[layer].T
            return tuple(grads), None

        init = tuple(jnp.zeros(w.shape, w.dtype) for w in reversed(ws))
        return jax.lax.scan(body, init, idx)[0]

    optimizer = optim.build(settings.optimizer, jnp)
    grads = jax.tree.map(lambda a: jnp.full_like(a, 1e-3), params)

    def only_update(params, state, lr):
        def body(carry, _):
            p, s = carry
            updates, s = optimizer.update(grads, s, p, lr, batch)
            return (optim.apply_updates(p, updates), s), None
        return jax.lax.scan(body, (params, state), None, length=steps)[0]

    def timed(fn: Callable, *args: Any) -> float:
        compiled = jax.jit(fn).lower(*args).compile()
        return 1e3 * best_per_call(lambda: jax.block_until_ready(compiled(*args)), 1, repeats) / steps

    state = optimizer.init(params)
    lr = jnp.asarray(settings.lr, dtype=x.dtype)
    gather = timed(only_gather, x, idx)
    products = timed(gather_and_products, params, x, idx) - gather
    update = timed(only_update, params, state, lr)
    rows = [_row("gather", gather, step),
            _row("products (forward, errors, weight gradients)", products, step),
            _row("update", update, step)]
    rest = step - sum(r["ms"] for r in rows)
    rows.append(_row("the rest (elementwise work, output error, the loop)", rest, step))
    return {"step_ms": step, "batch": batch, "rows": rows,
            "scoring": _scoring(b, gemm_scoring_ms, repeats)}


PROFILERS = {"numpy": profile_numpy, "jax": profile_jax, "jax-grad": profile_jax}


def profile(settings: Settings, data: Dataset, repeats: int, gemm: dict[str, Any]) -> dict[str, Any] | None:
    """The per-step breakdown of `settings.backend` on `data`, or None for a backend without one
    (sklearn). `gemm`: the bench's gemm floor, for the products alone of one step and of the
    curves' scoring."""
    profiler = PROFILERS.get(settings.backend)
    if profiler is None:
        return None
    sequences = gemm["sequences"]
    scoring_ms = sum(s["count"] * s["ms"] for s in sequences if s["what"].startswith("scoring")) \
        / settings.max_epochs
    result = profiler(settings, data, repeats, scoring_ms)
    result["gemm_step_ms"] = next(s["ms"] for s in sequences if s["what"].startswith("step"))
    return result


def markdown(profiles: dict[str, dict[str, Any]]) -> list[str]:
    """The profiles as Markdown lines: a table per backend."""
    lines = []
    for name, p in profiles.items():
        lines += ["", f"### {name}: one step of batch {p['batch']}, {p['step_ms']:.3f} ms "
                      f"(its products alone, numpy: {p['gemm_step_ms']:.3f} ms)", "",
                  "| part | ms per step | share |", "|---|---|---|"]
        lines += [f"| {r['part']} | {r['ms']:.3f} | {100 * r['share']:.0f}% |" for r in p["rows"]]
        s = p["scoring"]
        lines += ["", f"Scoring the training set (curves A and C): {s['ms']:.1f} ms per epoch; its "
                      f"products alone {s['products_ms']:.1f} ms."]
    return lines
