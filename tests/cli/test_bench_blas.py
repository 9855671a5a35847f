"""numpy's BLAS as `fcnn bench` names it, and OPENBLAS_CORETYPE holding OpenBLAS to another
kernel than the one it picks on this CPU: the line that says so with the fix and what it costs,
in bench.json and on the screen. OpenBLAS reads the variable when it loads, so each case is a
process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import run_fcnn

from fcnn_cli.commands.bench import blas_info


def _in_process(code: str, coretype: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != blas_info.VARIABLE}
    if coretype is not None:
        env[blas_info.VARIABLE] = coretype
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


WHAT_IT_SAYS = """
import json
from fcnn_cli.backends.threads import numpy_blas
from fcnn_cli.commands.bench import blas_info, floor
blas = numpy_blas()
rate = floor.product_gflop(256) / min(floor.numpy_seconds(256, 2))
print(json.dumps({"blas": blas, "held": blas_info.held_kernel(blas, rate, 256, 2)}))
"""


@pytest.fixture(scope="module")
def kernels() -> tuple[str, str]:
    """The kernel OpenBLAS picks here, and another one it can be held to (skip where numpy's
    BLAS is no OpenBLAS built for several kernels)."""
    unset = _in_process(WHAT_IT_SAYS, None)
    blas = unset["blas"]
    if blas is None or blas["internal_api"] != "openblas" or not blas.get("architecture"):
        pytest.skip(f"numpy's BLAS is not an OpenBLAS that names its kernel: {blas}")
    older = "Nehalem" if blas["architecture"].lower() != "nehalem" else "Core2"
    held = _in_process(WHAT_IT_SAYS, older)["blas"]["architecture"]
    if held == blas["architecture"]:
        pytest.skip(f"this OpenBLAS has one kernel ({held}): {blas_info.VARIABLE} changes nothing")
    return blas["architecture"], older


def test_unset_nothing_is_held_and_the_blas_is_named(kernels):
    auto, _ = kernels
    said = _in_process(WHAT_IT_SAYS, None)
    assert said["held"] is None
    assert blas_info.describe(said["blas"]).startswith("OpenBLAS ")
    assert f"{auto} kernel, {said['blas']['num_threads']} thread" in blas_info.describe(said["blas"])
    # The variable naming the kernel OpenBLAS picks anyway holds nothing back.
    assert _in_process(WHAT_IT_SAYS, auto)["held"] is None


def test_a_held_kernel_is_measured_against_the_one_the_cpu_takes(kernels):
    auto, older = kernels
    held = _in_process(WHAT_IT_SAYS, older)["held"]
    assert held["variable"] == older and held["unset_kernel"] == auto
    assert held["kernel"] != auto
    assert held["gflops_rate"] > 0 and held["unset_gflops_rate"] > 0
    line = blas_info.held_line(held)
    assert line.startswith(f"{blas_info.VARIABLE}={older} holds numpy's OpenBLAS to its "
                           f"{held['kernel']} kernel; unset, it picks {auto} on this CPU")
    assert f"run with {blas_info.VARIABLE} unset" in line


def test_bench_says_what_the_held_kernel_costs(tmp_path, kernels):
    auto, older = kernels
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "dataset=digits", "backends=[numpy]", "struct=[16]", "max_epochs=1",
                    "repeats=1", "warmup=0", "predict_repeats=1", "floor_matmul_size=256",
                    "floor_repeats=2", f"hydra.run.dir={run_dir}", env={blas_info.VARIABLE: older})
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "bench.json").read_text())
    held = report["held_kernel"]
    assert held["variable"] == older and held["unset_kernel"] == auto
    assert report["blas"]["architecture"] == held["kernel"]
    # numpy's rate in this process is its best "before", beside the unset one
    assert held["gflops_rate"] == max(report["floor"]["measurements"][0]["rates"]["numpy"])
    assert blas_info.held_line(held) in " ".join(proc.stdout.split())
    assert f"fcnn bench: numpy's BLAS with {blas_info.VARIABLE} unset, for comparison" in proc.stderr
