"""numpy's BLAS as `fcnn bench` reports it: the library, its kernel and thread count, and what
OPENBLAS_CORETYPE costs when it holds OpenBLAS to another kernel than the one it picks itself.

threadpoolctl reads what the loaded BLAS says of itself (OpenBLAS: the kernel it chose, e.g.
SkylakeX, Haswell). With OPENBLAS_CORETYPE set, OpenBLAS uses the kernel named there instead of
the best one this CPU supports; the only way to know what that costs is to measure both: a
subprocess with the variable unset reports its own kernel and times the floor's product
(`python -m fcnn_cli.commands.bench.blas_info SIZE REPEATS`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

VARIABLE = "OPENBLAS_CORETYPE"


def describe(blas: dict[str, Any] | None) -> str:
    """'OpenBLAS 0.3.31, SkylakeX kernel, 2 threads' (the kernel where the library names one)."""
    if blas is None:
        return "no BLAS found by threadpoolctl"
    names = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}
    parts = [f"{names.get(blas['internal_api'], blas['internal_api'])} {blas.get('version') or ''}"
             .strip()]
    if blas.get("architecture"):
        parts.append(f"{blas['architecture']} kernel")
    threads = blas.get("num_threads")
    parts.append(f"{threads} thread{'s' if threads != 1 else ''}")
    return ", ".join(parts)


def unheld(size: int, repeats: int, timeout: float = 300.0) -> dict[str, Any]:
    """The kernel OpenBLAS picks with OPENBLAS_CORETYPE unset, and the floor's product's best
    rate with it: {"architecture", "gflops_rate"}, measured in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    proc = subprocess.run([sys.executable, "-m", "fcnn_cli.commands.bench.blas_info", str(size),
                           str(repeats)], env=env, capture_output=True, text=True, timeout=timeout,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def held_kernel(blas: dict[str, Any] | None, held_rate: float, size: int, repeats: int
                ) -> dict[str, Any] | None:
    """When OPENBLAS_CORETYPE holds numpy's OpenBLAS to another kernel than the one it picks
    unset: {"variable", "kernel", "unset_kernel", "gflops_rate" (here), "unset_gflops_rate"};
    else None. `held_rate`: numpy's rate on the floor's product in this process."""
    value = os.environ.get(VARIABLE)
    if not value or blas is None or blas.get("internal_api") != "openblas":
        return None
    unset = unheld(size, repeats)
    if str(unset["architecture"]).lower() == str(blas.get("architecture")).lower():
        return None  # it names the kernel OpenBLAS picks anyway
    return {"variable": value, "kernel": blas.get("architecture"),
            "unset_kernel": unset["architecture"], "gflops_rate": held_rate,
            "unset_gflops_rate": unset["gflops_rate"]}


def held_line(held: dict[str, Any]) -> str:
    """The one line that says what OPENBLAS_CORETYPE costs and how to stop it."""
    gain = held["unset_gflops_rate"] / held["gflops_rate"]
    return (f"{VARIABLE}={held['variable']} holds numpy's OpenBLAS to its {held['kernel']} kernel; "
            f"unset, it picks {held['unset_kernel']} on this CPU and multiplies {gain:.2f}x as fast "
            f"({held['unset_gflops_rate']:.0f} against {held['gflops_rate']:.0f} GFLOP/s on the "
            f"floor's product): run with {VARIABLE} unset (`env -u {VARIABLE} fcnn bench`)")


def _main(argv: list[str]) -> None:
    from fcnn_cli.backends.threads import numpy_blas
    from fcnn_cli.commands.bench import floor

    size, repeats = int(argv[0]), int(argv[1])
    best = min(floor.numpy_seconds(size, repeats))
    blas = numpy_blas()
    print(json.dumps({"architecture": blas.get("architecture") if blas else None,
                      "gflops_rate": floor.product_gflop(size) / best}))


if __name__ == "__main__":
    _main(sys.argv[1:])
