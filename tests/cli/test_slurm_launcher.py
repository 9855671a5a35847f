"""The SLURM launcher's bookkeeping where no cluster can stage it (tests/test_slurm.py runs it on
a real one): a controller that does not answer, a cluster with accounting, a job submitit itself
stopped, and a failure recorded next to what the job already wrote. Also `scripts/slurm-local`
refusing to run without root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import NUMPY_FAST, REPO, run_fcnn

from fcnn_cli.hydra_app.slurm import launcher as slurm


def _fake_tool(bin_dir: Path, name: str, stdout: str = "", stderr: str = "", status: int = 0) -> None:
    """A stand-in for a SLURM client command that prints fixed text (and records its arguments)."""
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{bin_dir}/{name}.args'\n"
                      f"printf '%s' '{stdout}'\nprintf '%s' '{stderr}' >&2\nexit {status}\n")
    script.chmod(0o755)


@pytest.fixture
def slurm_bin(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_states_from_squeue_and_forgotten_jobs_from_sacct(slurm_bin):
    _fake_tool(slurm_bin, "squeue", "12_0|COMPLETED\n12_1|RUNNING\n12_2|PENDING\n")
    _fake_tool(slurm_bin, "sacct", "12_3|CANCELLED by 0\n12_3.batch|CANCELLED\n13|TIMEOUT\n")
    states = slurm.job_states(["12_0", "12_1", "12_2", "12_3", "13", "14"])
    assert states == {"12_0": "COMPLETED", "12_1": "RUNNING", "12_2": "PENDING",
                      "12_3": "CANCELLED", "13": "TIMEOUT", "14": "GONE"}
    assert "--jobs=12,13,14" in (slurm_bin / "squeue.args").read_text()


def test_no_accounting_and_no_longer_listed_is_gone(slurm_bin):
    _fake_tool(slurm_bin, "squeue", stderr="slurm_load_jobs error: Invalid job id specified", status=1)
    _fake_tool(slurm_bin, "sacct", stderr="Slurm accounting storage is disabled", status=1)
    assert slurm.job_states(["7_0", "7_1"]) == {"7_0": "GONE", "7_1": "GONE"}


def test_unreachable_controller_is_no_answer(slurm_bin):
    _fake_tool(slurm_bin, "squeue", stderr="slurm_load_jobs error: Unable to contact slurm controller",
               status=1)
    assert slurm.job_states(["7_0"]) is None  # ask again later; never "gone" on a network blip


def _job(tmp_path: Path, result: object | None, stderr: str = "") -> SimpleNamespace:
    import cloudpickle

    folder = tmp_path / ".submitit" / "5_1"
    folder.mkdir(parents=True)
    paths = SimpleNamespace(folder=folder, result_pickle=folder / "5_1_0_result.pkl",
                            stderr=folder / "5_1_0_log.err")
    paths.stderr.write_text(stderr)
    if result is not None:
        paths.result_pickle.write_bytes(cloudpickle.dumps(result))
    return SimpleNamespace(job_id="5_1", paths=paths)


def test_job_submitit_stopped_before_its_limit_is_a_timeout(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus
    from submitit.core.utils import UncompletedJobError

    error = UncompletedJobError("Job not requeued because: timed-out too many times.")
    job = _job(tmp_path, ("success", JobReturn(status=JobStatus.FAILED, _return_value=error)))
    found = slurm.outcome(job, 1, ["lr=0.1"], None)
    assert found.failure.startswith("TIMEOUT (submitit stopped it before its time limit")
    returned = slurm.job_return(found, "1 of 2 jobs failed")
    assert returned.status == JobStatus.FAILED
    with pytest.raises(slurm.SlurmJobFailed, match="1 of 2 jobs failed"):
        returned.return_value  # noqa: B018 - what a sweeper does with a job's result


def test_job_slurm_ended_takes_slurm_own_reason(tmp_path):
    log = ("training...\nslurmstepd-vm: error: *** JOB 5 ON vm CANCELLED AT 2026-11-28T13:45:00 "
           "DUE TO TIME LIMIT ***\nsrun: error: vm: task 0: Killed\n")
    found = slurm.outcome(_job(tmp_path, None, log), 1, ["lr=0.1"], "TIMEOUT")
    assert found.failure == ("TIMEOUT in SLURM (JOB 5 ON vm CANCELLED AT 2026-11-28T13:45:00 "
                             "DUE TO TIME LIMIT)")


def test_a_job_that_died_after_a_requeue_is_not_said_to_be_requeued(tmp_path):
    # As CI saw it: the time-limit warning requeued the job; its next start was killed by a
    # signal before its Python could handle it. The earlier start's line is not the reason.
    log = (f"{slurm.START_MARK} 5 (restart 3)\nresuming at epoch 700\n"
           "slurmstepd-vm: error: *** JOB 5 ON vm CANCELLED AT 2026-12-02T23:41:26 DUE TO JOB "
           "REQUEUE ***\nsrun: error: vm: task 0: Terminated\n"
           f"{slurm.START_MARK} 5 (restart 4)\nsrun: error: vm: task 0: User defined signal 2\n")
    found = slurm.outcome(_job(tmp_path / "a", None, log), 1, ["lr=0.1"], "FAILED")
    assert found.failure == "FAILED in SLURM (srun: task 0: User defined signal 2)"
    # Within one start, slurmstepd's line says more than srun's "Terminated" after it.
    first_start = log[:log.rindex(slurm.START_MARK)]
    found = slurm.outcome(_job(tmp_path / "b", None, first_start), 1, ["lr=0.1"], "CANCELLED")
    assert found.failure.endswith("DUE TO JOB REQUEUE)")
    # Nothing SLURM said in the last start: no detail rather than an old one.
    found = slurm.outcome(_job(tmp_path / "c", None, first_start + f"{slurm.START_MARK} 5 (restart 4)\n"),
                          1, ["lr=0.1"], "FAILED")
    assert found.failure == "FAILED in SLURM"


def test_record_failure_keeps_what_the_run_wrote(tmp_path):
    found = slurm.Outcome(3, ["lr=0.1"], "5_3", failure="CANCELLED in SLURM", log_file=tmp_path / "x.err")
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / "metrics.json").write_text(json.dumps({"status": "interrupted", "test_acc": 0.9}))
    slurm.record_failure(interrupted, found)
    metrics = json.loads((interrupted / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["test_acc"] == 0.9
    assert metrics["failure"] == "killed" and metrics["error"] == "CANCELLED in SLURM"
    assert metrics["slurm_job_id"] == "5_3"
    assert (interrupted / ".hydra" / "overrides.yaml").read_text().strip() == "- lr=0.1"
    completed = tmp_path / "completed"
    completed.mkdir()
    (completed / "metrics.json").write_text(json.dumps({"status": "completed"}))
    slurm.record_failure(completed, found)  # training finished: the run stands
    assert json.loads((completed / "metrics.json").read_text()) == {"status": "completed"}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="needs root to run the script as another user")
def test_slurm_local_without_root_says_why_in_one_line():
    # A copy where `nobody` can read it: a checkout may sit below a directory only root enters
    # (mktemp -d and pytest's tmp_path make them 0700).
    shared = Path(tempfile.mkdtemp(prefix="slurm-local-"))
    try:
        shared.chmod(0o755)
        script = shared / "slurm-local"
        shutil.copy(REPO / "scripts" / "slurm-local", script)
        script.chmod(0o755)
        for command in ("up", "down"):
            proc = subprocess.run(["runuser", "-u", "nobody", "--", str(script), command],
                                  capture_output=True, text=True, timeout=60)
            assert proc.returncode == 1
            assert proc.stdout == ""
            assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
            assert "needs root" in proc.stderr
    finally:
        shutil.rmtree(shared)


def test_slurm_local_usage():
    proc = subprocess.run([str(REPO / "scripts" / "slurm-local"), "sideways"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_slurm_launcher_without_slurm_is_one_line(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = run_fcnn("train", "-m", "hydra/launcher=slurm", *NUMPY_FAST, "lr=0.1,0.2",
                    f"hydra.sweep.dir={tmp_path / 'sweep'}", env={"PATH": str(empty)})
    # A launcher this machine cannot run is a setting to change: Hydra's errors exit with 2.
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert 'no SLURM here: Could not detect "srun"' in proc.stderr
    assert "make slurm-up" in proc.stderr


@pytest.mark.parametrize(("launcher", "key", "hint"), [
    ("slurm_local", "signal_delay_s", ""),  # SLURM's key; submitit's local executor warns at 30 s
    ("slurm", "partitio", "did you mean partition? "),
])
def test_a_key_the_launcher_does_not_take_is_one_line_and_leaves_nothing(tmp_path, slurm_bin,
                                                                         launcher, key, hint):
    _fake_tool(slurm_bin, "srun")  # submitit's SLURM executor is made only where srun is found
    sweep = tmp_path / "sweep"
    proc = run_fcnn("train", "-m", f"hydra/launcher={launcher}", f"+hydra.launcher.{key}=5",
                    *NUMPY_FAST, "lr=0.1,0.2", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"fcnn: error: hydra.launcher.{key}: {hint}hydra/launcher={launcher} "
                               "does not take it; it takes "), lines[0]
    assert "timeout_min" in lines[0] and "max_num_timeout" in lines[0]
    assert not sweep.exists()
