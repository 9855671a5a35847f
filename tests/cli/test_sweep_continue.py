"""`fcnn train -m resume=SWEEP_DIR`: a sweep continued where it stopped. The jobs that did not
complete resume from their checkpoint or run from their start, under their own numbers and in
their own directories, with the launcher of the first run or another; completed jobs are not
touched; every job ends bitwise equal to the sweep that was never stopped. Refused in one line:
a directory that is not a sweep, changed parameters, a sweep still running."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import assert_refused, read_metrics, run_fcnn, run_fcnn_together, snapshot

SWEEP = ("backend=numpy", "dataset=digits", "struct=[16]", "batch_size=16", "progress=false",
         "plot=false", "lr=0.05,0.1", "seed=1,2")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Path]:
    """The sweep run to its end (5 epochs), and the same sweep stopped at 2 epochs (whose
    checkpoints stand in for jobs killed mid-training: max_epochs is not part of a checkpoint)."""
    root = tmp_path_factory.mktemp("continue")
    full, short = root / "full", root / "short"
    done = run_fcnn_together(("train", "-m", *SWEEP, "max_epochs=5", f"hydra.sweep.dir={full}"),
                             ("train", "-m", *SWEEP, "max_epochs=2", f"hydra.sweep.dir={short}"))
    for result in done:
        assert result.returncode == 0, result.stderr
    return {"full": full, "short": short}


def _stopped(sweeps: dict[str, Path], where: Path) -> Path:
    """A copy of the full sweep as a crash would leave it: job 0 completed, job 1 killed after
    epoch 2 (its checkpoint, no results), job 2 never started, job 3 failed before its first
    checkpoint (a failure record, no checkpoint)."""
    shutil.copytree(sweeps["full"], where)
    job1 = where / "1"
    for name in ("metrics.json", "model.npz", "curves.csv"):
        (job1 / name).unlink()
    shutil.copy(sweeps["short"] / "1" / "checkpoint.npz", job1 / "checkpoint.npz")
    shutil.rmtree(where / "2")
    (where / "3" / "checkpoint.npz").unlink()
    (where / "3" / "model.npz").unlink()
    (where / "3" / "metrics.json").write_text(json.dumps(
        {"status": "failed", "failure": "killed", "error": "its process died"}))
    # Job 0's files must come out untouched: an old mtime shows any rewrite.
    for path in (where / "0").rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    return where


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [None, "local", "slurm_local"])
def test_a_stopped_sweep_continues_to_the_results_of_one_never_stopped(sweeps, tmp_path, launcher):
    sweep_dir = _stopped(sweeps, tmp_path / "sweep")
    kept = {str(p): (p.stat().st_mtime, _digest(p)) for p in (sweep_dir / "0").rglob("*")
            if p.is_file()}
    chosen = () if launcher is None else (f"hydra/launcher={launcher}",)
    result = run_fcnn("train", "-m", f"resume={sweep_dir}", *chosen)
    assert result.returncode == 0, result.stderr
    assert "continued: 1 job kept, 1 resumed, 2 rerun" in result.stdout
    assert f"sweep: 4 jobs, 4 completed, 0 failed; runs in {sweep_dir}" in result.stdout
    assert {str(p): (p.stat().st_mtime, _digest(p)) for p in (sweep_dir / "0").rglob("*")
            if p.is_file()} == kept
    assert read_metrics(sweep_dir / "1")["resumed_from_epoch"] == 2
    assert read_metrics(sweep_dir / "3")["resumed_from_epoch"] is None
    for job in "0123":
        assert _digest(sweep_dir / job / "model.npz") == _digest(sweeps["full"] / job / "model.npz")
        ours, theirs = read_metrics(sweep_dir / job), read_metrics(sweeps["full"] / job)
        assert (ours["status"], ours["lr"], ours["seed"], ours["test_acc"]) == (
            theirs["status"], theirs["lr"], theirs["seed"], theirs["test_acc"])
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]


def test_a_completed_sweep_continued_runs_nothing(sweeps, tmp_path):
    sweep_dir = tmp_path / "sweep"
    shutil.copytree(sweeps["full"], sweep_dir)
    before = {k: v for k, v in snapshot(sweep_dir).items() if not k.startswith(".") and "/" in k}
    result = run_fcnn("train", "-m", f"resume={sweep_dir}")
    assert result.returncode == 0, result.stderr
    assert "continued: 4 jobs kept, 0 resumed, 0 rerun" in result.stdout
    after = {k: v for k, v in snapshot(sweep_dir).items() if not k.startswith(".") and "/" in k}
    assert after == before


def test_not_a_sweep_is_refused(sweeps, tmp_path):
    assert_refused(run_fcnn("train", "-m", f"resume={sweeps['full'] / '0'}"), "resumes one run, not a sweep",
                   "drop -m")
    assert_refused(run_fcnn("train", "-m", f"resume={tmp_path}"), "is not a sweep directory")
    assert_refused(run_fcnn("train", "-m", f"resume={tmp_path / 'nowhere'}"), "does not exist")


def test_changed_parameters_are_refused_and_nothing_is_touched(sweeps, tmp_path):
    sweep_dir = _stopped(sweeps, tmp_path / "sweep")
    before = snapshot(sweep_dir)
    assert_refused(run_fcnn("train", "-m", f"resume={sweep_dir}", "lr=0.3,0.1"),
                   "lr=0.3,0.1 would change the sweep")
    assert_refused(run_fcnn("train", "-m", f"resume={sweep_dir}", "hydra.sweeper.params.seed=3"),
                   "would change the sweep")
    assert snapshot(sweep_dir) == before


def test_a_sweep_still_running_is_refused(sweeps, tmp_path):
    sweep_dir = _stopped(sweeps, tmp_path / "sweep")
    before = snapshot(sweep_dir)
    # As its `fcnn train -m` holds it while it runs ...
    fd = os.open(sweep_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert_refused(run_fcnn("train", "-m", f"resume={sweep_dir}"), "is still running")
    finally:
        os.close(fd)
    # ... and as a job that goes on training after its sweep's process died holds its directory.
    fd = os.open(sweep_dir / "1", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert_refused(run_fcnn("train", "-m", f"resume={sweep_dir}"), "is still training")
    finally:
        os.close(fd)
    assert snapshot(sweep_dir) == before
