"""Nothing lost under load: the workers of an 8-job sweep are killed at random moments (SIGKILL and
SIGTERM, several times, on `local` and on `slurm_local`), the sweep is continued with
`fcnn train -m resume=SWEEP_DIR` until it completes, and every job's result equals its twin's in
the same sweep never disturbed. The figures (jobs, kills, continues, results equal) are printed
(`pytest -s`) and asserted."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, read_metrics, run_fcnn

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

# 8 jobs of about 3 s of training each (at a few ms an epoch), a checkpoint every half second.
SWEEP = ("backend=numpy", "dataset=digits", "struct=[64]", "batch_size=16", "max_epochs=150",
         "progress=false", "plot=false", "checkpoint.every_s=0.5", "lr=0.05,0.1", "seed=1,2,3,4")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# The processes that run the jobs: joblib's (loky) workers, submitit's job processes.
WORKERS = {"local": "popen_loky_posix", "slurm_local": "submitit.core._submit"}
ROUNDS_WITH_KILLS = 3
ENV = {**os.environ, **ONE_THREAD, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120"}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _workers(root: int, marker: str) -> list[int]:
    """The live descendants of `root` whose command line holds `marker`."""
    tree, found, todo = _children(), [], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            todo.append(child)
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(child)
    return found


def _round(args: list[str], marker: str, kills: int, rng: random.Random,
           made: Counter) -> int:
    """Run `fcnn train ARGS`, killing `kills` of its workers at random moments (counted in
    `made` by signal); its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "fcnn_cli", "train", *args], cwd=REPO, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = 0
    while done < kills and proc.poll() is None:
        # Soon enough that the kills land while the round runs (8 jobs of about 3 s on 2 cores,
        # less when a continued sweep has little left), late enough that some die mid-training.
        time.sleep(rng.uniform(0.3, 1.5))
        workers = _workers(proc.pid, marker)
        if workers:
            victim = rng.choice(workers)
            with_signal = rng.choice((signal.SIGKILL, signal.SIGTERM))
            try:
                os.kill(victim, with_signal)
                done += 1
                made[with_signal.name] += 1
            except ProcessLookupError:
                pass
    proc.wait(timeout=600)
    return proc.returncode


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    sweep_dir = tmp_path_factory.mktemp("kills") / "twin"
    result = run_fcnn("train", "-m", "hydra/launcher=local", *SWEEP, f"hydra.sweep.dir={sweep_dir}",
                      env=ONE_THREAD, timeout=600)
    assert result.returncode == 0, result.stderr
    return sweep_dir


@pytest.mark.parametrize("launcher", ["local", "slurm_local"])
def test_a_sweep_killed_again_and_again_ends_as_the_one_never_disturbed(twin, tmp_path, launcher):
    rng = random.Random(f"kills-{launcher}")
    sweep_dir = tmp_path / "sweep"
    args = ["-m", f"hydra/launcher={launcher}", *SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    kills: Counter = Counter()
    continues = 0
    status = _round(args, WORKERS[launcher], rng.randint(2, 3), rng, kills)
    while status != 0:
        assert continues < 10, f"not complete after {continues} continues"
        continues += 1
        more = rng.randint(1, 3) if continues < ROUNDS_WITH_KILLS else 0
        status = _round(["-m", f"resume={sweep_dir}", f"hydra/launcher={launcher}"],
                        WORKERS[launcher], more, rng, kills)
    jobs = sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    equal = 0
    for job in jobs:
        ours, theirs = np.load(job / "model.npz"), np.load(twin / job.name / "model.npz")
        same = sorted(ours.files) == sorted(theirs.files) and all(
            np.array_equal(ours[k], theirs[k]) for k in ours.files)
        mine, its = read_metrics(job), read_metrics(twin / job.name)
        same = same and all(mine[k] == its[k] for k in ("status", "lr", "seed", "train_loss",
                                                          "test_acc", "epochs_completed"))
        equal += same
    print(f"\n{launcher}: {len(jobs)} jobs, {kills.total()} kills ({kills['SIGKILL']} SIGKILL, "
          f"{kills['SIGTERM']} SIGTERM), {continues} continues, "
          f"{equal} of {len(jobs)} results equal to the undisturbed twin's")
    assert len(jobs) == 8 and kills.total() >= 3
    assert equal == len(jobs)


def test_jobs_a_signalled_worker_skips_are_counted_and_continued(tmp_path):
    """SIGTERM to the sweep's workers alone (not to the sweep): each stops its job after the
    epoch, and skips the jobs it is given next, as on Ctrl-C. Those left no directory, and the
    summary counted only the jobs that did ("sweep: 2 jobs"), so a sweep whose signalled jobs had
    just finished ended with status 0 and jobs missing (the kill soak above found it). Now they
    are "not started", the sweep fails and says how to continue, and continuing completes them."""
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=local", "hydra.launcher.n_jobs=2", "backend=numpy",
            "dataset=digits", "struct=[16]", "batch_size=8", "annealing=0.95", "progress=false",
            "plot=false", "max_epochs=60", "seed=1,2,3,4", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([sys.executable, "-m", "fcnn_cli", "train", *args], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not all((sweep / job / "checkpoint.npz").exists() for job in ("0", "1")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    workers = _workers(proc.pid, WORKERS["local"])
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert [read_metrics(sweep / job)["status"] for job in ("0", "1")] == ["interrupted"] * 2
    assert not (sweep / "2").exists() and not (sweep / "3").exists()
    assert f"sweep: 4 jobs, 0 completed, 2 interrupted, 2 not started, 0 failed; runs in {sweep}" in out
    skipped = re.search(r"  not started: ([\d, ]+) \(its worker process had been stopped by a signal\)",
                        err)
    assert skipped and len(skipped.group(1).split(", ")) == 2, err
    assert f"continue the sweep with: fcnn train -m resume={sweep}" in err

    done = run_fcnn("train", "-m", f"resume={sweep}", "hydra/launcher=local", env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    assert "continued: 0 jobs kept, 2 resumed, 2 rerun" in done.stdout
    assert [read_metrics(sweep / str(job))["status"] for job in range(4)] == ["completed"] * 4
