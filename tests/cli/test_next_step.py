"""Every way of training ends by saying what to do next: a run with `fcnn evaluate DIR` (two lines in
all, the command works as printed), a sweep with `fcnn report SWEEP_DIR`, `make run` with how to
put fcnn on the PATH. The machine-readable outputs (metrics.json) stay as they were."""

from __future__ import annotations

import json
import re
import shlex

from helpers import NUMPY_FAST, REPO, read_metrics, run_fcnn, train_here


def test_a_run_ends_with_where_it_went_and_how_to_look_at_it(tmp_path):
    run_dir = tmp_path / "my run"  # a space: the printed command must still work as typed
    result = train_here(*NUMPY_FAST, "plot=false", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines  # short: the result, then the next step
    metrics = read_metrics(run_dir)
    assert lines[0] == f"test accuracy {100 * metrics['test_acc']:.2f}%; run directory {run_dir}"
    where = shlex.quote(str(run_dir))
    assert lines[1] == f"next: fcnn evaluate {where}   (or fcnn report {where})"
    # The command works as printed.
    evaluate = shlex.split(lines[1].removeprefix("next: ").split("   (or ")[0])
    assert evaluate[:2] == ["fcnn", "evaluate"]
    checked = run_fcnn(*evaluate[1:])
    assert checked.returncode == 0, checked.stderr
    assert json.loads((run_dir / "eval.json").read_text())
    # metrics.json says nothing about it: the same keys as before.
    assert "next" not in metrics and metrics["status"] == "completed"


def test_a_sweep_ends_with_the_report_command(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_fcnn("train", "-m", *NUMPY_FAST, "plot=false", "max_epochs=1", "lr=0.1,0.2",
                      f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2] == f"sweep: 2 jobs, 2 completed, 0 failed; runs in {sweep}"
    assert lines[-1] == f"next: fcnn report {sweep}"
    # The jobs do not each say it: the sweep's summary does, once.
    assert sum("next:" in line for line in lines) == 1
    assert run_fcnn("report", str(sweep), "--no-plot").returncode == 0


def test_a_sweep_with_a_failed_job_still_ends_with_the_report_command(tmp_path):
    sweep = tmp_path / "sweep"
    faults = REPO / "tests" / "cli" / "fault_injection"  # job 1 raises as training starts
    result = run_fcnn("train", "-m", *NUMPY_FAST, "plot=false", "max_epochs=1", "lr=0.1,0.2",
                      f"hydra.sweep.dir={sweep}",
                      env={"PYTHONPATH": str(faults), "FCNN_TEST_FAIL": "1:raise"})
    assert result.returncode == 1, result.stderr
    assert "failed 1: RuntimeError: injected failure" in result.stderr
    assert result.stdout.splitlines()[-1] == f"next: fcnn report {sweep}"


def test_make_run_says_how_to_put_fcnn_on_the_path():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no run: target"
    lines = recipe.group(1).splitlines()
    assert "train" in lines[0]
    assert "source $(BIN)/activate" in lines[-1] and "$(FCNN)" in lines[-1]
