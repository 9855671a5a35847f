"""The timing job's own matrix products, timed alone: `fcnn bench`'s "x gemm floor".

The floor of `fcnn bench` divides the job's FLOP by the best rate of one large square product; the
job's products are smaller and thinner (batch 100 against 784, 500, 250 and 10 units), and run
slower than that. This floor performs the products the job performs, in its shapes and operand
layouts, with nothing else: each mini-batch step's forward products, then from the top for each
layer the error passed down (E W^T; not for the input layer) and the weight gradient (Z^T E), as
the numpy backend issues them, and the curves' forward products over the training set in chunks
of the numpy backend's evaluation rows. The job's time if only its products cost anything is
then the sum over the job of each sequence's best time; a fit time over it says how much of the
fit is everything else (elementwise work, the update, the gather, Python or the runtime).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Product:
    """One matrix product C (m x n) = A (m x k) @ B (k x n), an operand maybe a transposed view."""

    what: str
    m: int
    k: int
    n: int
    a_transposed: bool = False
    b_transposed: bool = False

    @property
    def flop(self) -> int:
        return 2 * self.m * self.k * self.n


def step_products(sizes: Sequence[int], batch: int) -> list[Product]:
    """The products of one mini-batch step of `batch` rows, in the order the numpy backend runs
    them: forward through every layer, then from the top the error passed down (E W^T, W^T a
    transposed view; the input layer's is never formed) and the weight gradient (Z^T E)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    products = [Product(f"forward {i + 1}", batch, fan_in, fan_out)
                for i, (fan_in, fan_out) in enumerate(pairs)]
    for i in range(len(pairs) - 1, -1, -1):
        fan_in, fan_out = pairs[i]
        if i > 0:
            products.append(Product(f"error {i}", batch, fan_out, fan_in, b_transposed=True))
        products.append(Product(f"weight gradient {i + 1}", fan_in, batch, fan_out, a_transposed=True))
    return products


def forward_products(sizes: Sequence[int], rows: int) -> list[Product]:
    """The products of one forward pass over `rows` rows (scoring a chunk)."""
    return [Product(f"forward {i + 1}", rows, fan_in, fan_out)
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def job_plan(sizes: Sequence[int], n_train: int, batch: int, chunk: int, epochs: int
             ) -> list[tuple[str, list[Product], int]]:
    """(what, its products, how many times the job runs them): the full mini-batch steps and the
    last, smaller one of every epoch, then curves A and C's scoring of the training set in
    chunks of `chunk` rows (the last one smaller)."""
    plan = []
    batch, chunk = min(batch, n_train), min(chunk, n_train)
    full, rest = divmod(n_train, batch)
    plan.append((f"step, batch {batch}", step_products(sizes, batch), epochs * full))
    if rest:
        plan.append((f"last step, batch {rest}", step_products(sizes, rest), epochs))
    full, rest = divmod(n_train, chunk)
    plan.append((f"scoring, {chunk} rows", forward_products(sizes, chunk), epochs * full))
    if rest:
        plan.append((f"scoring, last {rest} rows", forward_products(sizes, rest), epochs))
    return plan


def plan_flop(plan: Sequence[tuple[str, list[Product], int]]) -> int:
    return sum(count * sum(p.flop for p in products) for _, products, count in plan)


def _operands(products: Sequence[Product], dtype: np.dtype, rng: np.random.Generator) -> list[tuple]:
    made = []
    for p in products:
        a = rng.random((p.k, p.m) if p.a_transposed else (p.m, p.k), dtype=np.float64).astype(dtype)
        b = rng.random((p.n, p.k) if p.b_transposed else (p.k, p.n), dtype=np.float64).astype(dtype)
        made.append((a.T if p.a_transposed else a, b.T if p.b_transposed else b,
                     np.empty((p.m, p.n), dtype)))
    return made


def time_sequence(products: Sequence[Product], dtype: str = "float32", repeats: int = 5,
                  min_seconds: float = 0.02) -> float:
    """Seconds for the products in turn, once: the best over `repeats` of the mean of enough
    back-to-back runs to last `min_seconds` (a neighbour's load only ever slows them)."""
    operands = _operands(products, np.dtype(dtype), np.random.default_rng(0))

    def run(times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            for a, b, out in operands:
                np.matmul(a, b, out=out)
        return time.perf_counter() - start

    once = run(1)  # also the warm-up: threads started, pages touched
    inner = max(1, math.ceil(min_seconds / max(once, 1e-9)))
    return min(run(inner) / inner for _ in range(repeats))


def measure(plan: Sequence[tuple[str, list[Product], int]], dtype: str = "float32",
            repeats: int = 5) -> dict[str, Any]:
    """The job's products timed: {"seconds": the job's, "sequences": each one's figures}."""
    sequences = []
    for what, products, count in plan:
        seconds = time_sequence(products, dtype, repeats)
        flop = sum(p.flop for p in products)
        sequences.append({"what": what, "count": count, "products": len(products),
                          "ms": 1e3 * seconds, "gflops_rate": flop / seconds / 1e9})
    return {"seconds": sum(s["count"] * s["ms"] / 1e3 for s in sequences), "sequences": sequences}
