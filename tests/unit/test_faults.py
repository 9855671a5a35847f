"""A failed atomic write names the real file and leaves the old one whole; each fault of the
machine reads as one line saying what to do."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from fcnn_cli import atomic
from fcnn_cli.training import faults


def test_a_failed_write_keeps_the_old_file_and_names_the_real_one(tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old version")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(atomic.WriteFailed) as err:
        atomic.write_bytes(target, b"new version, longer")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert err.value.needed == len(b"old version") and not err.value.at_least
    assert target.read_bytes() == b"old version"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_first_write_that_fails_says_at_least_what_it_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EDQUOT, "q")))
    with pytest.raises(atomic.WriteFailed) as err:
        atomic.write_text(tmp_path / "a.json", "x" * 5000)
    assert err.value.needed == 5000 and err.value.at_least
    assert list(tmp_path.iterdir()) == []


def test_messages_say_what_and_what_to_do(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    err = atomic.WriteFailed(OSError(errno.ENOSPC, "No space"), run / "model.npz", 204_800)
    assert faults.message(err, run) == (
        f"no space left on {faults._mount_point(run)} writing model.npz (about 205 KB needed); "
        "nothing was trained to keep yet: free space, then run the same command again")
    np.savez(run / "checkpoint.npz", epoch=np.array(7))
    line = faults.message(atomic.WriteFailed(OSError(errno.EROFS, "ro"), run / "curves.csv", None), run)
    assert "read-only file system at" in line and "writing curves.csv" in line
    assert line.endswith(f"the checkpoint of epoch 7 is intact: make it writable, then fcnn train "
                         f"resume={run}")
    assert faults.message(OSError(errno.EACCES, "denied", str(tmp_path / "x.csv")), run) == (
        f"permission denied in {tmp_path} writing {tmp_path / 'x.csv'}; the checkpoint of epoch 7 "
        f"is intact: give yourself write permission there, then fcnn train resume={run}")
    assert faults.is_fault(OSError(errno.ENOSPC, "x")) and not faults.is_fault(OSError(errno.ENOENT, "x"))
    assert not faults.is_fault(ValueError())
