"""Faults of the machine are one line too: a full disk (a real tmpfs, where the tests run as root,
as CI does), a read-only run directory, a quota and a permission error injected in the write of
one file. The last checkpoint stays intact and `fcnn train resume=DIR` completes the run."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, assert_refused, read_metrics, run_fcnn

FAULT_EXIT = 74
# A checkpoint of this net is about 1.2 MB: a 2 MB tmpfs holds one, not the next one beside it
# (an atomic write keeps the old file until the new one is whole).
BIG = ("dataset=digits", "backend=numpy", "struct=[512,512]", "max_epochs=3", "batch_size=64",
       "progress=false", "plot=false")
ROOT = os.geteuid() == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *options: str):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]),
                              "tmpfs", str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.skipif(not ROOT, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_full_disk_is_one_line_and_the_run_resumes_once_there_is_space(tmp_path):
    twin = tmp_path / "twin"
    assert run_fcnn("train", *BIG, f"hydra.run.dir={twin}", cwd=tmp_path).returncode == 0
    with tmpfs(tmp_path / "disk", "2m") as disk:
        run = disk / "run"
        result = run_fcnn("train", *BIG, f"hydra.run.dir={run}", cwd=tmp_path)
        assert result.returncode == FAULT_EXIT, result.stderr
        line = one_line(result)
        assert line.startswith(f"fcnn: error: no space left on {disk} writing checkpoint.npz (about ")
        assert f"the checkpoint of epoch 1 is intact: free space, then fcnn train resume={run}" in line
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]  # nothing half-written
        assert read_metrics(run)["status"] == "failed"
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        resumed = run_fcnn("train", f"resume={run}", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert read_metrics(run)["status"] == "completed"
        with np.load(run / "model.npz") as got, np.load(twin / "model.npz") as want:
            for name in want.files:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.skipif(not ROOT, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_read_only_run_directory_is_the_users_to_change(tmp_path):
    with tmpfs(tmp_path / "ro", "1m", "ro") as ro:
        result = run_fcnn("train", *BIG, f"hydra.run.dir={ro}/run", cwd=tmp_path)
        assert_refused(result, "hydra.run.dir: cannot create", "ead-only file system")


@pytest.mark.parametrize("code, what, todo", [
    ("EDQUOT", "disk quota exceeded on", "free space within your quota"),
    ("EACCES", "permission denied in", "give yourself write permission there"),
    ("ENOSPC", "no space left on", "free space"),
])
def test_a_fault_writing_the_model_is_one_line_with_the_checkpoint_kept(tmp_path, code, what, todo):
    run = tmp_path / "run"
    env = {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parent / "write_faults"), str(REPO)]),
           "FCNN_TEST_WRITE_FAULT": f"{code}:model.npz"}
    result = run_fcnn("train", "dataset=digits", "backend=numpy", "struct=[16]", "max_epochs=2",
                      "progress=false", f"hydra.run.dir={run}", cwd=tmp_path, env=env)
    assert result.returncode == FAULT_EXIT, result.stderr
    line = one_line(result)
    assert what in line and "writing model.npz" in line, line
    assert f"the checkpoint of epoch 2 is intact: {todo}, then fcnn train resume={run}" in line
    assert not (run / "model.npz").exists() and (run / "checkpoint.npz").exists()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    resumed = run_fcnn("train", f"resume={run}", cwd=tmp_path)  # without the fault: it completes
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "model.npz").exists() and read_metrics(run)["status"] == "completed"

