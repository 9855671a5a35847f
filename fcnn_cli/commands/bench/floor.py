"""The floor of `fcnn bench`: the least time this machine needs for the timing job's arithmetic.

The job's floating-point work (`job_gflop`) at the fastest rate that any library in the run
reaches on one large float32 matrix product: numpy's BLAS (the numpy and sklearn backends), XLA
on the CPU (the JAX backends) and PyTorch when a peer uses it. A library held below what the CPU
can do (OpenBLAS pinned to an older kernel by OPENBLAS_CORETYPE) then no longer makes the floor
too slow for the others: no backend can beat the floor, whatever kernel each library runs.

A neighbour's load only ever slows a product, so the best repeat of each library counts, and the
floor is measured at several points of the run (before, between and after the backends). The
floor is noisy when its own repeats disagree: the median of the winning library's repeats more
than `NOISE` below their best. Only then are its ratios flagged, since only then may the floor
itself have been measured too slow.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The floor is noisy when the median of its library's repeats is this far below their best.
NOISE = 0.10


def job_gflop(sizes: Sequence[int], n_train: int, epochs: int) -> float:
    """GFLOP of training on n_train samples for `epochs` epochs plus curves A and C each epoch.

    Per sample and epoch, with F the multiply-adds of one forward pass: the forward pass (2F),
    the weight gradients (2F), the error passed down through every layer but the input one,
    and the curve evaluation's forward pass over the whole training set (2F). Bias additions,
    activations and the softmax are lower-order and left out.
    """
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    forward = sum(products)
    propagate = sum(products[1:])
    return epochs * n_train * (6 * forward + 2 * propagate) / 1e9


def product_gflop(size: int) -> float:
    """GFLOP of one size x size by size x size matrix product."""
    return 2 * size**3 / 1e9


def _best_of(product: Callable[[], Any], repeats: int) -> list[float]:
    product()  # warm-up: threads started, pages touched, a JIT's compilation done
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        seconds.append(time.perf_counter() - start)
    return seconds


def numpy_seconds(size: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` float32 products through numpy's BLAS."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty((size, size), np.float32)
    return _best_of(lambda: np.matmul(a, b, out=out), repeats)


def xla_seconds(size: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` float32 products compiled by XLA for this CPU."""
    import jax  # only here: the floor's XLA product is the one use of JAX outside its backends
    import jax.numpy as jnp

    cpu = jax.devices("cpu")[0]
    rng = np.random.default_rng(0)
    a, b = (jax.device_put(rng.random((size, size), dtype=np.float32), cpu) for _ in range(2))
    product = jax.jit(jnp.matmul)
    return _best_of(lambda: product(a, b).block_until_ready(), repeats)


def torch_seconds(size: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` float32 products through PyTorch on the CPU."""
    import torch  # optional: only where a peer trains with PyTorch

    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand((size, size), generator=generator, dtype=torch.float32) for _ in range(2))
    out = torch.empty((size, size), dtype=torch.float32)
    return _best_of(lambda: torch.matmul(a, b, out=out), repeats)


@dataclass(frozen=True)
class Library:
    """A library whose large product may set the floor."""

    name: str
    #: how bench.json and the summary name it
    title: str
    seconds: Callable[[int, int], list[float]]


LIBRARIES = {
    "numpy": Library("numpy", "numpy's BLAS", numpy_seconds),
    "xla": Library("xla", "XLA", xla_seconds),
    "torch": Library("torch", "PyTorch", torch_seconds),
}


def measure(libraries: Sequence[str], size: int, repeats: int, when: str) -> dict[str, Any]:
    """Each library's large product, `repeats` times: {"when", "rates": {library: [GFLOP/s]},
    "gflops_rate": the best of them all}."""
    flop = product_gflop(size)
    rates = {name: [flop / s for s in LIBRARIES[name].seconds(size, repeats)] for name in libraries}
    return {"when": when, "rates": rates, "gflops_rate": max(max(r) for r in rates.values())}


def combine(measurements: Sequence[dict[str, Any]], gflop: float) -> dict[str, Any]:
    """The floor from every measurement: the fastest library's best rate; the spread of that
    library's repeats (1 - median / best) and whether it is noisy; each library's best."""
    repeats: dict[str, list[float]] = {}
    for m in measurements:
        for name, rates in m["rates"].items():
            repeats.setdefault(name, []).extend(rates)
    best = {name: max(rates) for name, rates in repeats.items()}
    library = max(best, key=best.__getitem__)
    rate = best[library]
    spread = 1.0 - statistics.median(repeats[library]) / rate
    return {"gflop": gflop, "gflops_rate": rate, "seconds": gflop / rate, "library": library,
            "libraries": {name: {"title": LIBRARIES[name].title if name in LIBRARIES else name,
                                 "gflops_rate": best[name],
                                 "median_gflops_rate": statistics.median(repeats[name])}
                          for name in repeats},
            "spread": spread, "noisy": spread > NOISE}


def ratio(fit_seconds: float, floor: dict[str, Any]) -> dict[str, Any]:
    """A fit's ratio to the floor, flagged when the floor is noisy or the ratio is below 1.0
    (faster than the floor's rate allows: a library multiplied faster in the job than in the
    floor's product)."""
    value = fit_seconds / floor["seconds"]
    return {"ratio_to_floor": value, "noisy_floor": bool(floor["noisy"]),
            "below_floor": value < 1.0}
