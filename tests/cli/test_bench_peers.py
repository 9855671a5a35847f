"""`fcnn bench peers=true` (make peers) on digits: the same job written plainly with numpy, jitted
JAX, scikit-learn's MLPClassifier and PyTorch where it is installed, timed in the same sitting as
fcnn's backends and against the same floor. numpy's and JAX's peers start from the lab's init with
fcnn's seed and batch order, so their curves are fcnn's to float32 rounding; scikit-learn and
PyTorch start from their own, so theirs have the same shape and must learn."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
from helpers import run_fcnn


def test_peers_on_digits_compute_fcnns_curves(tmp_path):
    run_dir = tmp_path / "bench"
    proc = run_fcnn("bench", "peers=true", "dataset=digits", "backends=[numpy]", "struct=[64]",
                    "repeats=1", "warmup=0", "predict_repeats=1", "floor_matmul_size=256",
                    "floor_repeats=2", f"hydra.run.dir={run_dir}", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "bench.json").read_text())
    fcnn = report["results"][0]
    peers = report["peers"]
    has_torch = importlib.util.find_spec("torch") is not None
    expected = ["numpy", "jax", "sklearn"] + (["torch"] if has_torch else [])
    assert [r["peer"] for r in peers["results"]] == expected
    assert peers["skipped"] == ({} if has_torch else {"torch": "torch is not installed"})
    assert peers["fcnn"] == "numpy"
    # The floor is measured before each peer too, and counts PyTorch's product where it runs.
    whens = [m["when"] for m in report["floor"]["measurements"]]
    assert whens == ["before"] + [f"before peer {name}" for name in expected] + ["after"]
    assert set(report["floor"]["libraries"]) == {"numpy", "xla"} | ({"torch"} if has_torch else set())

    for r in peers["results"]:
        curves = r["curves"]
        assert [c["epoch"] for c in curves] == [1, 2, 3]
        losses = [c["train_loss"] for c in curves]
        assert all(math.isfinite(loss) for loss in losses)
        assert losses[0] > losses[1] > losses[2], (r["peer"], losses)  # it learns
        assert curves[-1]["train_acc"] > 0.5 and r["test_acc"] > 0.5, r
        assert r["fit_median"] > 0 and len(r["fit_seconds"]) == 1
        assert r["ratio_to_floor"] == pytest.approx(r["fit_median"] / report["floor"]["seconds"])
        assert r["ratio_to_fcnn"] == pytest.approx(r["fit_median"] / fcnn["fit_median"])
    same = {r["peer"]: r for r in peers["results"][:2]}
    for r in same.values():  # fcnn's init and batch order: fcnn's curve, float32 rounding apart
        assert r["curves"][-1]["train_loss"] == pytest.approx(fcnn["train_loss"], rel=1e-3)
        assert r["curves"][-1]["train_acc"] == pytest.approx(fcnn["train_acc"], abs=2 / report["n_train"])
        assert r["test_acc"] == pytest.approx(fcnn["test_acc"], abs=2 / report["n_test"])
    assert same["jax"]["compile_seconds"] > 0  # compiled ahead, apart from the fit

    steps = [line for line in proc.stderr.splitlines() if line.startswith("fcnn bench: peer")]
    assert steps == [f"fcnn bench: peer {name}: timed run 1 of 1" for name in expected]
    out = proc.stdout
    assert "x fcnn numpy" in out and "numpy, written plainly" in out
    assert ("not run: torch (torch is not installed)" in out) != has_torch
    md = (run_dir / "bench.md").read_text()
    assert "## Peers" in md and "| scikit-learn's MLPClassifier |" in md


@pytest.mark.parametrize(("option", "why"), [
    ("optimizer=adam", "the peers train with plain SGD"),
    ("activation=tanh", "the peers use ReLU"),
    ("dtype=float64", "the peers train in float32"),
])
def test_what_the_peers_do_not_write_is_refused_in_one_line(tmp_path, option, why):
    proc = run_fcnn("bench", "peers=true", "dataset=digits", option, f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fcnn: error: peers: {why}"), proc.stderr
