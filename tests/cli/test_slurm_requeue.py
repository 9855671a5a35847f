"""Requeue on a real SLURM cluster (`make slurm-up`): a job whose time limit is shorter than its
training gets SLURM's warning (USR2, signal_delay_s before the limit), stops after its epoch, is
requeued and resumes; a job that `scontrol requeue` stops mid-training does the same. Both end
bitwise equal to the same training never interrupted. Skipped, with the reason, without a cluster.

The two jobs and their uninterrupted twin run at once (about 3 minutes on the two-core local
cluster, mostly SLURM's clock: the time-limit warning comes 15 to 75 s into each start of the
job, and a requeued job waits the cluster's cred_expire, 10 s, before it starts again).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import read_metrics
from test_slurm import NO_CLUSTER, _popen, _wait_for

from fcnn_cli.hydra_app.slurm.launcher import START_MARK

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.cluster,
              pytest.mark.skipif(NO_CLUSTER is not None, reason=str(NO_CLUSTER))]

# About 110 s of training when the three trainings share two cores (57 s for 3000 epochs here).
# A job with a 2-minute limit is warned 45 s before it, which SLURM may do up to 60 s early: 15
# to 75 s into each start. So it is requeued at least once however fast the machine is, and may
# be several times (max_num_timeout=20 leaves room for a slow one). Not a 1-minute limit: its
# warning may come at once, before the job's Python has a handler for it, and USR2's default
# action kills the job (a FAILED job, seen once in CI). annealing=1 keeps the rate from
# vanishing over the epochs.
EPOCHS = 6000
TRAINING = ("backend=numpy", "dataset=digits", "batch_size=16", "struct=[256,256]", "lr=0.01",
            "annealing=1", f"max_epochs={EPOCHS}", "progress=false", "plot=false")
# The twin runs outside SLURM, where numpy's BLAS could use several threads (and another order of
# sums); a SLURM job has one core.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _squeue_state(job_id: str) -> str:
    proc = subprocess.run(["squeue", "--noheader", "--array", "--states=all", "--format=%T|%r",
                           f"--jobs={job_id}"], capture_output=True, text=True, timeout=30)
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def requeued(tmp_path_factory) -> dict:
    """The two sweeps and the twin, run once: {name: (directory, output, exit status)}, and the
    states squeue showed for the job that `scontrol requeue` stopped."""
    import os
    import sys

    from helpers import REPO

    root = tmp_path_factory.mktemp("requeue")
    dirs = {"timeout": root / "timeout", "requeue": root / "requeue", "twin": root / "twin"}
    twin = subprocess.Popen([sys.executable, "-m", "fcnn_cli", "train", *TRAINING,
                             f"hydra.run.dir={dirs['twin']}"], cwd=REPO,
                            env={**os.environ, **ONE_THREAD}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    timeout = _popen("train", "-m", "hydra/launcher=slurm", *TRAINING, "hydra.launcher.timeout_min=2",
                     "hydra.launcher.signal_delay_s=45", "hydra.launcher.max_num_timeout=20",
                     f"hydra.sweep.dir={dirs['timeout']}")
    requeue = _popen("train", "-m", "hydra/launcher=slurm", *TRAINING, "hydra.launcher.timeout_min=10",
                     f"hydra.sweep.dir={dirs['requeue']}")
    try:
        # Requeue the second job once it has trained a while (its first checkpoint is written).
        _wait_for(dirs["requeue"] / "0" / "checkpoint.npz", 180)
        time.sleep(8)
        # submitit's folder of the job, named by its SLURM id (first made under a temporary name).
        (job_id,) = (p.name for p in (dirs["requeue"] / ".submitit").iterdir()
                     if p.name.replace("_", "").isdigit())
        subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)
    except BaseException:
        for proc in (twin, timeout, requeue):  # nothing left running (SLURM jobs end with them)
            proc.kill()
        for sweep in (dirs["timeout"], dirs["requeue"]):
            for folder in (sweep / ".submitit").glob("[0-9]*"):
                subprocess.run(["scancel", folder.name], timeout=30)
        raise
    states = [_squeue_state(job_id)]
    deadline = time.monotonic() + 600
    while requeue.poll() is None and time.monotonic() < deadline:
        state = _squeue_state(job_id)
        if state != states[-1]:
            states.append(state)
        time.sleep(1)
    results = {"states": states, "job_id": job_id}
    for name, proc in (("requeue", requeue), ("timeout", timeout), ("twin", twin)):
        output, _ = proc.communicate(timeout=600)
        results[name] = (dirs[name], output, proc.returncode)
    return results


def _same_as_twin(run_dir: Path, twin_dir: Path) -> None:
    ours, twin = np.load(run_dir / "model.npz"), np.load(twin_dir / "model.npz")
    assert sorted(ours.files) == sorted(twin.files)
    for name in ours.files:
        assert np.array_equal(ours[name], twin[name]), name
    assert (run_dir / "curves.csv").read_text().count("\n") == EPOCHS + 1
    mine, theirs = read_metrics(run_dir), read_metrics(twin_dir)
    for key in ("train_loss", "train_acc", "test_acc", "test_loss", "epochs_completed"):
        assert mine[key] == theirs[key], key


def test_the_twin_ran(requeued):
    _, output, status = requeued["twin"]
    assert status == 0, output


def test_a_job_past_its_time_limit_is_requeued_and_ends_as_if_never_stopped(requeued):
    sweep_dir, output, status = requeued["timeout"]
    assert status == 0, output
    metrics = read_metrics(sweep_dir / "0")
    assert metrics["status"] == "completed"
    assert metrics["requeues"] >= 1
    assert metrics["resumed_from_epoch"] is not None
    logs = "".join(p.read_text() for p in (sweep_dir / ".submitit").rglob("*_log.err"))
    assert "got the time-limit warning (SIGUSR2): stopped after epoch" in logs
    # Each start of the job marks its log (so a failure's reason is read from its last start).
    starts = [line for line in logs.splitlines() if line.startswith(START_MARK)]
    assert len(starts) == metrics["requeues"] + 1
    assert f"(restart {metrics['requeues']})" in logs
    assert f"requeued {metrics['requeues']} time" in output
    _same_as_twin(sweep_dir / "0", requeued["twin"][0])


def test_a_job_requeued_by_scontrol_resumes_and_ends_as_if_never_stopped(requeued):
    sweep_dir, output, status = requeued["requeue"]
    assert status == 0, output
    metrics = read_metrics(sweep_dir / "0")
    assert metrics["status"] == "completed"
    assert metrics["requeues"] == 1
    assert 0 < metrics["resumed_from_epoch"] < EPOCHS
    logs = "".join(p.read_text() for p in (sweep_dir / ".submitit").rglob("*_log.err"))
    assert "DUE TO JOB REQUEUE" in logs and "stopped by SIGTERM after its epoch" in logs
    # squeue followed it: waiting to start again, then running again.
    assert any(s.startswith("PENDING") for s in requeued["states"]), requeued["states"]
    assert "requeued 1 time (job 0: 1)" in output
    _same_as_twin(sweep_dir / "0", requeued["twin"][0])
