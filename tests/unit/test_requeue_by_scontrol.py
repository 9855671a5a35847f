"""A job's own `scontrol requeue` (fcnn_cli.hydra_app.slurm.requeue.requeue_by_scontrol) survives the
SIGTERM with which SLURM stops the job it requeues, and a scontrol killed all the same does not
fail the job. An `scontrol` on PATH stands in for SLURM's: it signals itself as slurmd would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fcnn_cli.hydra_app.slurm.requeue import requeue_by_scontrol


def _fake_scontrol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """An `scontrol` first on PATH that records its arguments, then runs `body` (Python)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "scontrol"
    script.write_text(f"#!{sys.executable}\nimport os, signal, sys\nfrom pathlib import Path\n"
                      f"Path({str(tmp_path / 'args')!r}).write_text(' '.join(sys.argv[1:]))\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return script


def test_scontrol_ends_its_requeue_through_slurms_sigterm(tmp_path, monkeypatch):
    body = "os.kill(os.getpid(), signal.SIGTERM)\nprint('requeued')"
    script = _fake_scontrol(tmp_path, monkeypatch, body)
    # Unprotected, the stand-in dies of its SIGTERM: what made submitit's check_call raise.
    assert subprocess.run([str(script), "requeue", "7"]).returncode == -signal.SIGTERM
    requeue_by_scontrol("42")
    assert (tmp_path / "args").read_text() == "requeue 42"
    # The caller's own handling of SIGTERM is as it was.
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def test_a_scontrol_killed_as_slurm_stops_the_job_leaves_it_to_slurm(tmp_path, monkeypatch, capsys):
    _fake_scontrol(tmp_path, monkeypatch, "os.kill(os.getpid(), signal.SIGKILL)")
    requeue_by_scontrol("42")  # no error: the job leaves without a result, as on SIGTERM
    assert "scontrol requeue was stopped by SIGKILL" in capsys.readouterr().err


def test_scontrol_refusing_the_requeue_is_an_error(tmp_path, monkeypatch):
    _fake_scontrol(tmp_path, monkeypatch,
                   "print('scontrol: error: Invalid job id specified')\nsys.exit(1)")
    with pytest.raises(subprocess.CalledProcessError) as raised:
        requeue_by_scontrol("42")
    assert "Invalid job id" in raised.value.output
