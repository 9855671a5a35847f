"""How `fcnn train -m resume=SWEEP_DIR` is turned into the sweep's own command line, what it does
with each job, and the job numbers a continued sweep launches under."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from fcnn_cli.errors import UsageError
from fcnn_cli.hydra_app.slurm import jobs as submitit_jobs
from fcnn_cli.hydra_app.sweeps import continuation


def _sweep(tmp_path: Path, task: list[str], hydra: list[str]) -> Path:
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "multirun.yaml").write_text(yaml.safe_dump(
        {"hydra": {"overrides": {"task": task, "hydra": hydra}}}))
    return sweep_dir


def test_other_command_lines_are_left_alone(tmp_path):
    assert continuation.plan(["lr=0.1"]) == (["lr=0.1"], None)
    assert continuation.plan(["-m", "lr=0.1,0.2"]) == (["-m", "lr=0.1,0.2"], None)
    assert continuation.plan(["resume=x"]) == (["resume=x"], None)  # one run: hydra_app.resume


def test_the_sweep_is_given_its_own_overrides_directory_and_the_chosen_launcher(tmp_path):
    sweep_dir = _sweep(tmp_path, ["lr=0.05,0.1", "seed=1,2"],
                       ["hydra/launcher=slurm", "hydra.launcher.timeout_min=2",
                        f"hydra.sweep.dir={tmp_path}/old", "hydra.mode=MULTIRUN", "hydra.verbose=true"])
    args, plan = continuation.plan(["-m", f"resume={sweep_dir}", "hydra/launcher=local", "seed=1,2"])
    assert args == ["-m", "lr=0.05,0.1", "seed=1,2", "hydra.verbose=true", "hydra/launcher=local",
                    f"hydra.sweep.dir='{sweep_dir}'"]
    assert plan.sweep_dir == sweep_dir


def test_the_same_launcher_keeps_its_settings(tmp_path):
    sweep_dir = _sweep(tmp_path, ["lr=0.05,0.1"], ["hydra/launcher=slurm", "hydra.launcher.timeout_min=2"])
    args, _ = continuation.plan(["--multirun", f"resume={sweep_dir}", "hydra.launcher.mem_gb=2"])
    assert args == ["--multirun", "lr=0.05,0.1", "hydra/launcher=slurm", "hydra.launcher.timeout_min=2",
                    "hydra.launcher.mem_gb=2", f"hydra.sweep.dir='{sweep_dir}'"]


@pytest.mark.parametrize("extra", ["lr=0.3", "max_epochs=9", "hydra.sweeper.params.lr=0.3"])
def test_a_change_to_the_sweep_is_refused(tmp_path, extra):
    sweep_dir = _sweep(tmp_path, ["lr=0.05,0.1"], [])
    with pytest.raises(UsageError, match="would change the sweep"):
        continuation.plan(["-m", f"resume={sweep_dir}", extra])


def test_a_run_is_not_a_sweep(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("lr: 0.1\n")
    with pytest.raises(UsageError, match="resumes one run, not a sweep: drop -m"):
        continuation.plan(["-m", f"resume={tmp_path}"])


def test_each_job_is_kept_resumed_or_rerun(tmp_path):
    def job(name: str, status: str | None, checkpoint: bool) -> Path:
        path = tmp_path / name
        path.mkdir()
        if status is not None:
            (path / "metrics.json").write_text(json.dumps({"status": status}))
        if checkpoint:
            (path / "checkpoint.npz").write_bytes(b"")
        return path

    assert continuation.classify(job("done", "completed", True)) == continuation.KEPT
    assert continuation.classify(job("nan", "diverged", True)) == continuation.KEPT
    assert continuation.classify(job("stopped", "interrupted", True)) == continuation.RESUMED
    assert continuation.classify(job("killed", None, True)) == continuation.RESUMED
    assert continuation.classify(job("early", "failed", False)) == continuation.RERUN
    assert continuation.classify(tmp_path / "never") == continuation.RERUN


def test_fcnn_launchers_take_the_numbers_others_get_runs_of_consecutive_ones():
    calls = []

    class Plain:
        def launch(self, overrides, initial_job_idx):
            calls.append((list(overrides), initial_job_idx))
            return [f"r{initial_job_idx + i}" for i in range(len(overrides))]

    assert submitit_jobs.launch_numbered(Plain(), ["a", "b", "c", "d"], [1, 2, 5, 7]) == [
        "r1", "r2", "r5", "r7"]
    assert calls == [(["a", "b"], 1), (["c"], 5), (["d"], 7)]

    class Ours(Plain):
        numbered = True

        def launch(self, overrides, initial_job_idx):
            return submitit_jobs.job_numbers(self, initial_job_idx, len(overrides))

    ours = Ours()
    assert submitit_jobs.launch_numbered(ours, ["a", "b", "c"], [1, 5, 7]) == [1, 5, 7]
    assert submitit_jobs.job_numbers(ours, 3, 2) == [3, 4]  # afterwards: from initial_job_idx again
    assert submitit_jobs.job_numbers(SimpleNamespace(), 0, 3) == [0, 1, 2]
