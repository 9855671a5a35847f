"""The GPU check, prepared and dry-run on this CPU: `scripts/gpu_check_prepare.py` fills the carry
folder with what the offline device lacks, and `scripts/gpu_check.sh --dry-run` installs it with
pip --no-index into a fresh environment that holds only the device image's packages, runs every
step and leaves the results flat in $OUT, as the device tool brings them back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "scripts"))
import gpu_check_prepare  # noqa: E402

# What the device tool brings back from $OUT: at most 8 files (here all at its top).
OUT_FILES = {"log.txt", "env.txt", "pytest.txt", "bench.md", "bench.json", "epoch_cost.json",
             "ex5_3_metrics.json", "ex5_3_curves.csv"}


def test_what_travels_is_what_the_image_lacks():
    image = gpu_check_prepare.image_packages()
    assert {"jax", "jaxlib", "numpy", "scikit-learn", "matplotlib", "rich", "pyyaml", "pytest"} <= image
    missing = gpu_check_prepare.missing_requirements()
    # fcnn's own requirements and, through them, antlr4 (omegaconf's); never what the image has.
    assert set(missing) >= {"hydra-core", "omegaconf", "antlr4-python3-runtime", "python-mnist"}
    assert not set(missing) & image
    from importlib.metadata import version
    assert missing["hydra-core"] == version("hydra-core")  # the versions tested here


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.soak  # 75-80 s: make test-cluster runs it, and CI
def test_prepare_and_dry_run(tmp_path):
    prep, out = tmp_path / "prep", tmp_path / "out"
    prepare = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check_prepare.py"),
                              "--out", str(prep)], capture_output=True, text=True, timeout=600)
    assert prepare.returncode == 0, prepare.stderr
    manifest = json.loads((prep / "manifest.json").read_text())
    names = {w.split("-")[0].lower() for w in manifest["wheels"]}
    assert names >= {"fcnn_cli", "hydra_core", "omegaconf", "antlr4_python3_runtime", "python_mnist"}
    assert len(names) == len(manifest["packages"]) + 1  # one wheel each, and fcnn's
    for wheel in (prep / "wheels").glob("*.whl"):
        assert wheel.name.endswith(("-py3-none-any.whl", "-py2.py3-none-any.whl")), wheel.name
        assert zipfile.ZipFile(wheel).testzip() is None
    with zipfile.ZipFile(next((prep / "wheels").glob("fcnn_cli-*.whl"))) as whl:
        assert "fcnn_cli/conf/experiment/ex5_3.yaml" in whl.namelist()
        assert "fcnn_cli/conf/hydra/job_logging/fcnn.yaml" in whl.namelist()
    assert sorted(p.name for p in (prep / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz"]
    # With the working tree, under what one device call carries (64 MiB).
    total = sum(p.stat().st_size for p in prep.rglob("*") if p.is_file())
    assert total == pytest.approx(manifest["bytes"], abs=10_000) and total < 20 * 2**20

    env = {**os.environ, "OUT": str(out), "GPU_CHECK_DIR": str(prep), "PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--dry-run"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert {p.name for p in out.iterdir()} == OUT_FILES  # flat, 8 files
    summary = run.stdout[run.stdout.index("=== summary"):]
    for name in ("install", "data", "env", "tests", "bench", "cost", "ex5_3"):
        assert f"{name:8} ok" in summary, summary

    # fcnn ran from the installed wheel, in an environment that had no Hydra before.
    log = (out / "log.txt").read_text()
    installed = next(line for line in log.splitlines() if line.startswith("fcnn 0."))
    assert installed.endswith("/site/fcnn_cli/__init__.py"), installed
    assert "passed" in (out / "pytest.txt").read_text()
    bench = json.loads((out / "bench.json").read_text())
    assert [r["backend"] for r in bench["results"]] == ["jax", "jax-grad"]
    assert all(r["device"] == "cpu" and r["test_acc"] > 0.5 for r in bench["results"])
    cost = json.loads((out / "epoch_cost.json").read_text())
    assert {c["batch_size"] for c in cost["epochs"]} == {10, 1000}  # the dry run's two
    assert all(c["epoch_ms"] > 0 for c in cost["epochs"]) and cost["matmul_gflops"]["default"] > 0
    assert [b["backend"] for b in cost["bench"]] == ["jax", "jax-grad"]
    # ex5_3 read MNIST from the carried gzipped files (60,000 training images), batch 10.
    metrics = json.loads((out / "ex5_3_metrics.json").read_text())
    assert metrics["dataset"] == "mnist" and metrics["n_train"] == 60_000
    assert metrics["batch_size"] == 10 and metrics["status"] == "completed"
    assert metrics["test_acc"] > 0.85
    assert Path(out / "ex5_3_curves.csv").read_text().startswith("epoch,")
