"""What one optimizer update costs alone, and what that bounds `fcnn bench optimizer=adam`'s x sgd to.

    python scripts/update_cost.py [--bench bench.json] [--repeats 300]

The update of the timing job's network (MNIST, [500,250]: 520,260 float32 parameters) with plain
SGD and with Adam, timed alone, in one process, interleaved:
- numpy: `numpy_optim`'s in-place update over flat buffers, subnormals flushed as numpy trains
  (the backend's own plain SGD makes no such pass: it subtracts each gradient inside its BLAS
  product, `backends/blas.py`, so its real SGD update costs less than the one timed here);
- jax: `optim`'s update compiled with jax.jit, parameters and state donated, as in the epoch's
  scan body (one call per update, so the call's own dispatch is in both columns).
The job makes 1,800 updates (3 epochs of 600 batches), so the update alone makes its Adam fit
about 1,800 x (Adam's update - SGD's update) longer than its SGD fit: with --bench (a bench.json
from `fcnn bench optimizer=adam`), the x sgd that predicts is printed beside the measured one.
(Only about: inside the compiled epoch XLA may overlap part of an update with other work, and a
busy neighbour moves both numbers.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fcnn_cli.backends import (  # noqa: E402
    fpenv,  # noqa: E402
    numpy_optim,  # noqa: E402
)
from fcnn_cli.config.settings import OptimizerSettings  # noqa: E402
from fcnn_cli.core import model, optim  # noqa: E402

SIZES = model.layer_sizes(784, (500, 250), 10)
UPDATES = 1800  # the timing job: 3 epochs x 600 batches of 100
BATCH = 100


def _median_ms(update, refresh, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        refresh()
        start = time.perf_counter()
        update()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def numpy_update(name: str, repeats: int, rng: np.random.Generator) -> float:
    layout = numpy_optim.FlatLayout(SIZES)
    params = (0.01 * rng.standard_normal(layout.size)).astype(np.float32)
    grads = np.empty_like(params)
    fresh = (1e-3 * rng.standard_normal(layout.size)).astype(np.float32)
    opt = numpy_optim.build(OptimizerSettings(name=name), layout, params, grads)

    def refresh() -> None:  # the update leaves its gradients as scratch
        grads[...] = fresh

    with fpenv.flush_subnormals():
        return _median_ms(lambda: opt.update(0.001, BATCH), refresh, repeats)


def jax_update(name: str, repeats: int, rng: np.random.Generator) -> float:
    import jax
    import jax.numpy as jnp

    opt = optim.build(OptimizerSettings(name=name), jnp)
    shapes = [(a, b) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    params = [(jnp.asarray(0.01 * rng.standard_normal(s), jnp.float32), jnp.zeros(s[1], jnp.float32))
              for s in shapes]
    grads = [(jnp.asarray(1e-3 * rng.standard_normal(s), jnp.float32),
              jnp.asarray(1e-3 * rng.standard_normal(s[1]), jnp.float32)) for s in shapes]

    def step(params, state, grads, lr):
        updates, state = opt.update(grads, state, params, lr, BATCH)
        return optim.apply_updates(params, updates), state

    compiled = jax.jit(step, donate_argnums=(0, 1))
    carry = [params, opt.init(params)]
    lr = jnp.float32(0.001)

    def update() -> None:
        carry[:] = compiled(carry[0], carry[1], grads, lr)
        jax.block_until_ready(carry[0])

    update()  # compile
    return _median_ms(update, lambda: None, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, help="bench.json of `fcnn bench optimizer=adam`")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error(f"--repeats: at least 3 (one per interleaved round), got {args.repeats}")
    fits: dict[str, dict[str, dict]] = {}  # backend -> "sgd"/"adam" -> its bench result
    if args.bench:  # read first: a wrong path should not cost the measurements
        try:
            for r in json.loads(args.bench.read_text())["results"]:
                fits.setdefault(r["backend"], {})["sgd" if r["optimizer"] == "sgd" else "adam"] = r
        except (OSError, ValueError, KeyError, TypeError) as err:
            parser.error(f"--bench: {args.bench} is not a bench.json of `fcnn bench` ({err!r})")
    rng = np.random.default_rng(0)
    measure = {"numpy": numpy_update, "jax": jax_update}
    costs: dict[str, dict[str, list[float]]] = {b: {"sgd": [], "adam": []} for b in measure}
    for _ in range(3):  # interleaved, so a neighbour's load falls on both optimizers
        for backend, fn in measure.items():
            for name in ("sgd", "adam"):
                costs[backend][name].append(fn(name, args.repeats // 3, rng))
    print(f"one update of {SIZES} (float32), median ms; the job makes {UPDATES}")
    for backend in measure:
        sgd, adam = (statistics.median(costs[backend][n]) for n in ("sgd", "adam"))
        extra_s = UPDATES * (adam - sgd) / 1e3
        line = f"{backend:6s} sgd {sgd:.3f}  adam {adam:.3f}  extra per job {extra_s:.2f} s"
        for name in ([backend, "jax-grad"] if backend == "jax" else [backend]):
            found = fits.get(name, {})
            if "sgd" in found and "adam" in found:
                sgd_fit = found["sgd"]["fit_median"]
                line += (f"; {name}: x sgd from the update alone {(sgd_fit + extra_s) / sgd_fit:.2f}, "
                         f"measured {found['adam']['ratio_to_sgd']:.2f}")
        print(line)


if __name__ == "__main__":
    main()
