"""Sweeps that survive a dead job, as real subprocesses: a job whose worker process is SIGKILLed,
one that raises, and ones refused for bad data (on joblib, on submitit's one process per job, and
under Optuna) are each recorded as failed in their own
directory, the other jobs run to the end, the sweep ends with a summary and exit status 1, and
`fcnn report` shows the failed ones. A bad value in any job of a grid sweep stops it before the
first job starts. Faults are injected by tests/fault_injection/sitecustomize.py."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import run_fcnn, run_fcnn_together, write_idx_dir

from fcnn_cli.runs import layout

pytestmark = pytest.mark.slow

FAULTS = Path(__file__).parent / "fault_injection"
JOB = ("backend=numpy", "struct=[8]", "max_epochs=1", "batch_size=16", "progress=false",
       "plot=false")


@dataclass
class Sweep:
    dir: Path
    returncode: int
    stdout: str
    stderr: str

    def job(self, n: int) -> layout.RunDir:
        return layout.RunDir(self.dir / str(n))


def _sweeps(tmp: Path, sweeps: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, Sweep]:
    """{name: (faults, args)}: each sweep run with its faults injected, all at once; their results."""
    commands, envs = [], []
    for name, (faults, args) in sweeps.items():
        commands.append(("train", "-m", *args, f"hydra.sweep.dir={tmp / name}"))
        envs.append({"PYTHONPATH": str(FAULTS), "FCNN_TEST_FAIL": faults,
                     "FCNN_DATA_DIR": str(tmp / "data" / name)})
    procs = run_fcnn_together(*commands, env=envs, timeout=600)
    return {name: Sweep(tmp / name, proc.returncode, proc.stdout, proc.stderr)
            for name, proc in zip(sweeps, procs, strict=True)}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Sweep]:
    tmp = tmp_path_factory.mktemp("failing-sweeps")
    corrupt = tmp / "corrupt-idx"
    write_idx_dir(corrupt, corrupt=("magic", "train-images-idx3-ubyte"))
    grid = ("dataset=digits,mnist", f"dataset.path={corrupt}", "lr=0.1,0.2,0.3", *JOB)
    return _sweeps(tmp, {
        # 6 jobs on 2 workers: 0 completes, 1 is killed, 2 raises, 3-5 are refused (bad data).
        "joblib": ("1:kill,2:raise", ("hydra/launcher=local", "hydra.launcher.n_jobs=2", *grid)),
        # 4 Optuna trials, 2 at a time on 2 workers: trial 1 killed, trial 2 raises.
        "optuna": ("1:kill,2:raise", ("hparams_search=optuna", "hydra.sweeper.n_trials=4",
                                      "hydra.sweeper.n_jobs=2", "hydra/launcher=local",
                                      "hydra.launcher.n_jobs=2", "dataset=digits", "backend=numpy",
                                      "max_epochs=2", "progress=false", "plot=false")),
        # submitit's local executor (the SLURM launcher's twin), one process per job: the same
        # six jobs as with joblib.
        "submitit": ("1:kill,2:raise", ("hydra/launcher=slurm_local", *grid)),
    })


def test_joblib_sweep_survives_a_killed_worker_and_a_crash(sweeps):
    sweep = sweeps["joblib"]
    assert sweep.returncode == 1, sweep.stderr
    assert "Traceback" not in sweep.stderr
    statuses = [sweep.job(n).status() for n in range(6)]
    assert statuses == ["completed", *["failed"] * 5]
    assert sweep.job(0).read_metrics()["lr"] == 0.1
    killed = sweep.job(1).read_metrics()
    assert killed["failure"] == "killed" and "SIGKILL" in killed["error"]
    raised = sweep.job(2).read_metrics()
    assert raised["failure"] == "error" and raised["error"] == "RuntimeError: injected failure"
    for n in (3, 4, 5):
        refused = sweep.job(n).read_metrics()
        assert refused["failure"] == "refused"
        assert refused["error"].startswith("dataset.path: corrupt IDX file")
        assert "train-images-idx3-ubyte" in refused["error"]
    # Every job kept Hydra's record of its settings, next to its result.
    assert all(sweep.job(n).read_config()["lr"] in (0.1, 0.2, 0.3) for n in range(6))
    summary = [line for line in sweep.stdout.splitlines() if line.startswith("sweep:")]
    assert summary == [f"sweep: 6 jobs, 1 completed, 5 failed; runs in {sweep.dir}"]
    assert "failed 1: its process died (exit SIGKILL(-9))" in sweep.stderr
    assert "failed 2: RuntimeError: injected failure" in sweep.stderr


def test_optuna_search_goes_on_past_failed_trials(sweeps):
    sweep = sweeps["optuna"]
    assert sweep.returncode == 1, sweep.stderr
    statuses = [sweep.job(n).status() for n in range(4)]
    assert statuses == ["completed", "failed", "failed", "completed"]
    assert sweep.job(1).read_metrics()["failure"] == "killed"
    assert sweep.job(2).read_metrics()["failure"] == "error"
    results = yaml.safe_load((sweep.dir / "optimization_results.yaml").read_text())
    best = max(sweep.job(n).read_metrics()["val_acc"] for n in (0, 3))
    assert results["best_value"] == pytest.approx(best)
    assert "sweep: 4 jobs, 2 completed, 2 failed" in sweep.stdout


def test_submitit_sweep_survives_a_killed_job_and_a_crash(sweeps):
    sweep = sweeps["submitit"]
    assert sweep.returncode == 1, sweep.stderr
    assert [sweep.job(n).status() for n in range(6)] == ["completed", *["failed"] * 5]
    killed = sweep.job(1).read_metrics()
    assert killed["failure"] == "killed" and "ended without a result" in killed["error"]
    assert sweep.job(2).read_metrics()["error"] == "RuntimeError: injected failure"
    assert all(sweep.job(n).read_metrics()["failure"] == "refused" for n in (3, 4, 5))
    assert "sweep: 6 jobs, 1 completed, 5 failed" in sweep.stdout


def test_report_shows_the_failed_jobs_and_why(sweeps, tmp_path):
    sweep = sweeps["joblib"]
    proc = run_fcnn("report", str(sweep.dir), "--out", str(tmp_path), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "report.csv", newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert [rows[str(n)]["status"] for n in range(6)] == ["completed", *["failed"] * 5]
    assert "SIGKILL" in rows["1"]["error"] and rows["2"]["error"] == "RuntimeError: injected failure"
    assert rows["1"]["lr"] == "0.2"  # the settings of a killed job, from its Hydra config
    assert "5 failed:" in proc.stdout and "1: its process died" in proc.stdout
    assert "Failed runs:" in (tmp_path / "report.md").read_text()


def test_a_bad_value_in_any_job_stops_the_sweep_before_it_starts(tmp_path):
    proc = run_fcnn("train", "-m", *JOB, "dataset=digits", "lr=0.1,0.2,-1", "seed=1,2",
                    cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == ("fcnn: error: lr: must be a finite number > 0, got -1.0 "
                        "(sweep job 4 of 6: lr=-1 seed=1); no job was started")
    assert not (tmp_path / "outputs").exists()  # no sweep directory, no run


def test_in_process_sweep_goes_on_past_a_refused_job(tmp_path):
    """Hydra's basic launcher runs the jobs in this process: a job refused for its data (found
    only when it loads) fails alone, the next job runs, and the exit status says a job failed."""
    proc = run_fcnn("train", "-m", *JOB, "dataset=mnist,digits", f"dataset.path={tmp_path / 'none'}",
                    f"hydra.sweep.dir={tmp_path / 's'}", env={"FCNN_DATA_DIR": str(tmp_path / "d")})
    assert proc.returncode == 1, proc.stderr
    refused, completed = layout.RunDir(tmp_path / "s" / "0"), layout.RunDir(tmp_path / "s" / "1")
    assert refused.read_metrics()["failure"] == "refused"
    assert "dataset.path: no MNIST IDX files" in refused.read_metrics()["error"]
    assert completed.status() == "completed"
    assert "Traceback" not in proc.stderr
    assert f"sweep: 2 jobs, 1 completed, 1 failed; runs in {tmp_path / 's'}" in proc.stdout
