"""The BLAS threads of a run: pinned for its training, and named in its metrics.

A run's numbers depend on how many threads its BLAS uses: OpenBLAS splits a product between its
threads in ways that change how the sums are rounded, so the numpy backend on one and on two
threads gives different weights from the first epoch (float32 MNIST [512,256], batch 20). The
`threads` setting fixes that count for a run: `pinned(threads)` holds every BLAS library the
process has loaded (numpy's OpenBLAS, scipy's own) to that many threads through threadpoolctl,
and puts the counts back after. `describe(threads)` is what metrics.json records of it.

threads None is what the machine gives: in a SLURM job with --cpus-per-task, that many
(`SLURM_CPUS_PER_TASK`, so a job of the SLURM presets runs on as many threads as it has cores,
bound or not); elsewhere BLAS's own count (the CPUs the process may run on, OPENBLAS_NUM_THREADS,
or a joblib worker's share of the cores).

XLA (jax, jax-grad) is not pinned. Its CPU thread pool is sized once, from the CPUs the process
may run on, when JAX starts; XLA_FLAGS' `--xla_cpu_multi_thread_eigen=false` still left four
threads busy on jax 0.10, and `intra_op_parallelism_threads` is no XLA flag any more (JAX exits
on it). JAX's results did not depend on it: the jax backend's weights on one core (`taskset -c
0`) and on two were the same bits. `taskset -c` limits it where that is wanted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the variable SLURM sets in a job submitted with --cpus-per-task
SLURM_CPUS = "SLURM_CPUS_PER_TASK"


def effective(threads: int | None) -> int | None:
    """The thread count a run with the setting `threads` is pinned to: `threads`, or in a SLURM
    job with --cpus-per-task (threads None) that count; None: BLAS's own count, unpinned."""
    if threads is not None:
        return threads
    slurm = os.environ.get(SLURM_CPUS, "")
    return int(slurm) if slurm.isdigit() and int(slurm) >= 1 else None


@contextlib.contextmanager
def pinned(threads: int | None) -> Iterator[int | None]:
    """Every loaded BLAS held to `effective(threads)` threads inside the block (nothing changed
    where that is None), and put back after; yields that count."""
    count = effective(threads)
    if count is None:
        yield None
        return
    import numpy  # noqa: F401  (its BLAS loaded, for threadpoolctl to find)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield count


def numpy_blas() -> dict[str, Any] | None:
    """threadpoolctl's record of the BLAS numpy loaded (internal_api, version, architecture,
    num_threads, filepath, ...); None where it finds none. Another library's BLAS (scipy's
    OpenBLAS) is not numpy's: the one inside numpy's directories is chosen."""
    import numpy as np
    from threadpoolctl import threadpool_info

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    root = Path(np.__file__).resolve().parent
    mine = [info for info in blas
            if any(Path(info["filepath"]).resolve().is_relative_to(place)
                   for place in (root, root.with_name(root.name + ".libs")))]
    return (mine or blas or [None])[0]


def describe(threads: int | None = None) -> dict[str, Any]:
    """What a run with the setting `threads` computes on, as metrics.json records it:
    {"threads": the count it is pinned to (None: unpinned), "blas": library and version
    ("openblas 0.3.30"), "blas_kernel": the kernel it chose ("SkylakeX"; None where the library
    names none), "blas_threads": the threads numpy's BLAS uses in the run}."""
    with pinned(threads) as count:
        blas = numpy_blas()
    if blas is None:
        return {"threads": count, "blas": None, "blas_kernel": None, "blas_threads": None}
    return {"threads": count,
            "blas": f"{blas.get('internal_api')} {blas.get('version') or ''}".strip(),
            "blas_kernel": blas.get("architecture"), "blas_threads": blas.get("num_threads")}
