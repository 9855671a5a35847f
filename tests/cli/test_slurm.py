"""Sweeps on a real SLURM cluster (`make slurm-up` starts a one-node one on this machine): a grid
sweep and an Optuna search go out as SLURM job arrays and complete; a job SLURM cancels or times
out is a failed run in `fcnn report`, next to the others; the launcher says nothing about the
missing accounting database. Skipped, with the reason, where no cluster answers."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import REPO, read_metrics, run_fcnn


def _no_cluster_reason() -> str | None:
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not found); `make slurm-up` (as root) starts a local cluster"
    try:
        proc = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True,
                              text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "no SLURM controller answers (sinfo timed out); `make slurm-up` starts a local one"
    states = proc.stdout.split()
    if proc.returncode != 0 or not states:
        return (f"no SLURM controller answers ({(proc.stderr.strip().splitlines() or ['?'])[-1]}); "
                "`make slurm-up` (as root) starts a local one")
    if not any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"the SLURM cluster has no node up (node states: {' '.join(states)})"
    return None


NO_CLUSTER = _no_cluster_reason()
pytestmark = [pytest.mark.slurm, pytest.mark.cluster,
              pytest.mark.skipif(NO_CLUSTER is not None, reason=str(NO_CLUSTER))]

SLURM = ("train", "-m", "hydra/launcher=slurm")
# Tiny jobs on the embedded digits data; each sweep sets struct and max_epochs itself.
FAST = ("backend=numpy", "dataset=digits", "batch_size=16", "progress=false")
# What submitit prints when it polls sacct on a cluster without an accounting database.
NOISE = ("sacct", "Bypassing", "accounting storage is disabled", "Traceback")


def _popen(*args: str) -> subprocess.Popen:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120"}
    return subprocess.Popen([sys.executable, "-m", "fcnn_cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_dirs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def _completed_sweep(sweeps: dict, name: str, jobs: int) -> tuple[Path, str, list[dict]]:
    """The sweep `name` ended well with `jobs` runs: its directory, output and runs' metrics."""
    sweep_dir, output, status = sweeps[name]
    assert status == 0, output
    runs = _run_dirs(sweep_dir)
    assert len(runs) == jobs
    return sweep_dir, output, [read_metrics(r) for r in runs]


def _array_ids(sweep_dir: Path) -> set[str]:
    """The SLURM job arrays a sweep went out as, from submitit's per-task folders (ARRAY_TASK)."""
    tasks = (p.name for p in (sweep_dir / ".submitit").iterdir())
    return {name.split("_")[0] for name in tasks if re.fullmatch(r"\d+_\d+", name)}


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear in {seconds} s"
        time.sleep(0.5)


HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


def TRACKING_URI(root: Path) -> str:  # noqa: N802 - reads as the constant it is, per sweep root
    return f"sqlite:///{root / 'mlflow.db'}"


def _wait_for_epochs(uri: str, job: str, seconds: float) -> None:
    """Until the MLflow run of sweep job `job` ("#1") has logged an epoch."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    deadline = time.monotonic() + seconds
    while True:
        experiment = client.get_experiment_by_name("fcnn")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        if any(r.data.tags.get("mlflow.runName", "").startswith(f"{job} ") and "train_loss" in
               r.data.metrics for r in runs):
            return
        assert time.monotonic() < deadline, f"job {job} logged no epoch in {seconds} s"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, tuple[Path, str, int]]:
    """Four sweeps on the cluster, run once for the module: {name: (sweep dir, output, status)}.

    The time-limit sweep waits on SLURM's clock (a 1-minute limit), so it starts first and runs
    while the others do; its one job sleeps before training rather than computes, so it takes no
    CPU from them, and SLURM's early warning signal (meant for a training step) cannot reach it.
    """
    root = tmp_path_factory.mktemp("slurm")
    dirs = {name: root / name for name in ("grid", "optuna", "cancel", "timeout")}
    timeout = _popen(*SLURM, *FAST, "struct=[32]", "max_epochs=3", "hydra.launcher.timeout_min=1",
                     'hydra.launcher.setup=["sleep 300"]', f"hydra.sweep.dir={dirs['timeout']}")
    results = {}
    grid = run_fcnn(*SLURM, *FAST, "max_epochs=3", "lr=0.05,0.2", "struct=[16],[32]",
                    f"hydra.sweep.dir={dirs['grid']}")
    results["grid"] = (dirs["grid"], grid.stdout + grid.stderr, grid.returncode)
    optuna = run_fcnn("train", "hparams_search=optuna", "hydra/launcher=slurm",
                      "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "dataset=digits",
                      "backend=numpy", "max_epochs=3", "progress=false",
                      f"hydra.sweep.dir={dirs['optuna']}")
    results["optuna"] = (dirs["optuna"], optuna.stdout + optuna.stderr, optuna.returncode)

    # Job 1 trains for far longer than the test waits; cancel it once it has started training.
    # ... and tracked in MLflow, which must not show the cancelled job as still running.
    tracking = ("logger=mlflow", f"logger.tracking_uri={TRACKING_URI(root)}") if HAS_MLFLOW else ()
    cancel = _popen(*SLURM, *FAST, "struct=[32]", "max_epochs=3,100000", *tracking,
                    f"hydra.sweep.dir={dirs['cancel']}")
    _wait_for(dirs["cancel"] / "1" / ".hydra" / "config.yaml", 120)
    if HAS_MLFLOW:
        _wait_for_epochs(TRACKING_URI(root), "#1", 120)
    (job_dir,) = (dirs["cancel"] / ".submitit").glob("[0-9]*_1")
    subprocess.run(["scancel", job_dir.name], check=True)
    for name, proc in (("cancel", cancel), ("timeout", timeout)):
        output, _ = proc.communicate(timeout=300)
        results[name] = (dirs[name], output, proc.returncode)
    return results


def test_grid_sweep_runs_as_one_job_array_and_completes(sweeps):
    sweep_dir, output, metrics = _completed_sweep(sweeps, "grid", 4)
    assert all(m["status"] == "completed" for m in metrics)
    assert {(m["lr"], tuple(m["struct"])) for m in metrics} == {
        (0.05, (16,)), (0.2, (16,)), (0.05, (32,)), (0.2, (32,))}
    (array,) = _array_ids(sweep_dir)  # one sbatch, four array tasks
    assert f"submitted to SLURM as job array {array}" in output
    assert f"SLURM job array {array}: 4 of 4 jobs completed" in output
    # Each job ran inside SLURM: submitit logged the SLURM job environment of its array task.
    for task in range(4):
        log = (sweep_dir / ".submitit" / f"{array}_{task}" / f"{array}_{task}_0_log.out").read_text()
        assert f"JobEnvironment(job_id={array}_{task}" in log
    for noise in NOISE:
        assert noise not in output


def test_optuna_search_runs_trials_as_job_arrays(sweeps):
    sweep_dir, output, metrics = _completed_sweep(sweeps, "optuna", 4)
    assert all(m["status"] == "completed" and m["val_acc"] is not None for m in metrics)
    assert len(_array_ids(sweep_dir)) == 2  # n_jobs=2: two batches of two trials
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(max(m["val_acc"] for m in metrics))
    for noise in NOISE:
        assert noise not in output


def test_cancelled_job_is_a_failed_run_and_the_other_completes(sweeps):
    sweep_dir, output, status = sweeps["cancel"]
    assert status == 1  # the sweep says a job failed ...
    assert "SLURM job array" in output and "1 of 2 jobs completed, 1 failed" in output
    assert "sweep: 2 jobs, 1 completed, 1 failed" in output and "CANCELLED" in output
    assert "Traceback" not in output
    first, second = (read_metrics(r) for r in _run_dirs(sweep_dir))
    assert first["status"] == "completed"  # ... and the other job's run is complete
    assert second["status"] == "failed" and second["failure"] == "killed"
    assert second["error"].startswith("CANCELLED")
    assert Path(second["log"]).is_file()
    # Hydra had started the job (its own config is there); the launcher only marked it failed.
    config = yaml.safe_load((sweep_dir / "1" / ".hydra" / "config.yaml").read_text())
    assert config["max_epochs"] == 100000


@pytest.mark.skipif(not HAS_MLFLOW, reason="MLflow is not installed (pip install 'fcnn-cli[mlflow]')")
def test_cancelled_job_ends_its_mlflow_run_as_killed(sweeps):
    import mlflow

    sweep_dir = sweeps["cancel"][0]
    client = mlflow.MlflowClient(TRACKING_URI(sweep_dir.parent))
    runs = client.search_runs([client.get_experiment_by_name("fcnn").experiment_id])
    status = {r.data.tags.get("mlflow.runName", "").split(" ")[0]: r.info.status for r in runs
              if r.data.tags.get("fcnn.role") == "run"}
    assert status == {"#0": "FINISHED", "#1": "KILLED"}
    (parent,) = [r for r in runs if r.data.tags.get("fcnn.role") == "sweep"]
    assert parent.info.status == "FAILED"  # the sweep ended with a failed job
    killed = next(r for r in runs if r.info.status == "KILLED")
    assert killed.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert len(client.get_metric_history(killed.info.run_id, "train_loss")) >= 1  # logged live


def test_job_over_its_time_limit_is_a_failed_run(sweeps):
    sweep_dir, output, status = sweeps["timeout"]
    assert status == 1
    assert "0 of 1 jobs completed, 1 failed" in output and "Traceback" not in output
    (run,) = _run_dirs(sweep_dir)
    metrics = read_metrics(run)
    assert metrics["status"] == "failed"
    assert metrics["error"].startswith("TIMEOUT") and "DUE TO TIME LIMIT" in metrics["error"]
    # It never started, yet its directory holds its config, so the report shows its parameters.
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert config["max_epochs"] == 3 and config["backend"]["name"] == "numpy"


def test_report_shows_failed_jobs_without_hiding_the_others(sweeps, tmp_path):
    dirs = [str(sweeps[name][0]) for name in ("grid", "optuna", "cancel", "timeout")]
    out = tmp_path / "report"
    proc = run_fcnn("report", *dirs, "--out", str(out), "--sort", "test_acc")
    assert proc.returncode == 0, proc.stderr
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 + 4 + 2 + 1
    failed = [r for r in rows if r["status"] == "failed"]
    assert sorted(r["run"] for r in failed) == ["cancel/1", "timeout/0"]
    # The job that never started has no accuracy (sorted last); the cancelled one stopped after
    # an epoch on SLURM's SIGTERM and keeps that epoch's (fcnn_cli.hydra_app.slurm.requeue).
    by_run = {r["run"]: r for r in failed}
    assert by_run["timeout/0"]["test_acc"] == "" and by_run["cancel/1"]["test_acc"] != ""
    assert rows[-1]["run"] == "timeout/0"
    assert sum(r["status"] == "completed" for r in rows) == 9
    assert "cancel/1: CANCELLED" in proc.stdout
    assert "timeout/0: TIMEOUT" in proc.stdout
    assert sum(r["best"] == "1" for r in rows) == 1  # Optuna's best trial still marked


def test_job_the_cluster_cannot_run_is_refused_in_one_line(tmp_path):
    if "EnforcePartLimits=ALL" not in Path("/etc/slurm/slurm.conf").read_text():
        pytest.skip("this cluster queues jobs it cannot run (no EnforcePartLimits=ALL)")
    proc = run_fcnn(*SLURM, *FAST, "max_epochs=1", "lr=0.1,0.2", "hydra.launcher.cpus_per_task=4096",
                    f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2  # a request to change, as any bad setting
    assert "Traceback" not in proc.stderr
    assert "SLURM did not take the sweep: sbatch: error:" in proc.stderr


def test_slurm_local_status_and_up_are_idempotent():
    script = REPO / "scripts" / "slurm-local"
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "PARTITION" in status.stdout
    if not Path("/etc/slurm-local/slurm.conf").is_file() or os.geteuid() != 0:
        pytest.skip("this cluster was not started by scripts/slurm-local (as root)")
    start = time.monotonic()
    up = subprocess.run([str(script), "up"], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "up:" in up.stdout and "restarting" not in up.stdout  # nothing changed, nothing done
    assert time.monotonic() - start < 30


def test_a_job_on_one_core_equals_a_local_run_on_one_thread_bitwise(tmp_path):
    """The SLURM preset's job (cpus_per_task 1, threads null: fcnn_cli.backends.threads pins
    its BLAS to SLURM_CPUS_PER_TASK) ends on the weights of `fcnn train threads=1` here, bit for
    bit, on a job whose products OpenBLAS threads (tests/cli/test_threads_bitwise.py: two threads end
    elsewhere)."""
    import numpy as np

    job = ("backend=numpy", "dataset=mnist", "dataset.classes=[3,8]", "struct=[512,256]",
           "batch_size=20", "max_epochs=1", "progress=false", "plot=false")
    sweep = tmp_path / "sweep"
    proc = run_fcnn(*SLURM, *job, "seed=1,2", f"hydra.sweep.dir={sweep}", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    local = run_fcnn("train", *job, "threads=1", f"hydra.run.dir={tmp_path / 'local'}")
    assert local.returncode == 0, local.stderr
    config = yaml.safe_load((sweep / "0" / ".hydra" / "config.yaml").read_text())
    assert (config["threads"], config["seed"]) == (None, 1)
    with np.load(sweep / "0" / "model.npz") as slurm, np.load(tmp_path / "local" / "model.npz") as here:
        names = [n for n in slurm.files if n[0] in "Wb" and n[1:].isdigit()]
        assert len(names) == 6
        for name in names:
            assert np.array_equal(slurm[name], here[name]), name
