"""Faults of the machine, not of the program: a full disk, a quota, a read-only file system or a
missing permission while a run writes its files. They are one line naming the file and what to
do, with exit status FAULT_EXIT (sysexits' EX_IOERR), never a traceback: the run's files are
written whole or not at all (fcnn_cli.atomic), so the last checkpoint is intact and
`fcnn train resume=DIR` goes on from it once the fault is mended."""

from __future__ import annotations

import errno
import os
from pathlib import Path

#: The exit status of a run stopped by a fault of the machine (sysexits.h EX_IOERR).
FAULT_EXIT = 74

# errno -> (what happened, what to do about it)
FAULTS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on {where}", "free space"),
    errno.EDQUOT: ("disk quota exceeded on {where}", "free space within your quota"),
    errno.EROFS: ("read-only file system at {where}", "make it writable"),
    errno.EACCES: ("permission denied in {where}", "give yourself write permission there"),
    errno.EPERM: ("operation not permitted in {where}", "give yourself write permission there"),
}


def is_fault(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in FAULTS


def _mount_point(path: Path) -> Path:
    path = path.resolve() if path.exists() else path.absolute()
    while not path.exists() or not os.path.ismount(path):
        if path.parent == path:
            return path
        path = path.parent
    return path


def _size_text(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1000
    return ""


def _checkpoint_epoch(run_dir: Path) -> int | None:
    """The epoch the run directory's checkpoint holds, None without a readable one."""
    import numpy as np

    from fcnn_cli.training.checkpoint import EPOCH

    try:
        with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as found:
            return int(found[EPOCH])
    except Exception:  # noqa: BLE001 - no checkpoint, or not one we can read: say nothing of it
        return None


def message(err: OSError, run_dir: Path) -> str:
    """The one line for fault `err` met while a run wrote to `run_dir`. (The plain commands,
    fcnn evaluate, report and predict, name their output in one line of their own, exit 2.)"""
    file = Path(err.filename) if err.filename else run_dir
    what, todo = FAULTS[err.errno]
    name = file.name if file.parent == run_dir else str(file)
    needed = getattr(err, "needed", None)
    about = f" ({'at least' if getattr(err, 'at_least', False) else 'about'} " \
            f"{_size_text(needed)} needed)" if needed and err.errno in (
        errno.ENOSPC, errno.EDQUOT) else ""
    where = _mount_point(file.parent) if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) \
        else file.parent
    epoch = _checkpoint_epoch(run_dir)
    if epoch is None:
        state = "nothing was trained to keep yet"
        then = "then run the same command again"
    else:
        state = f"the checkpoint of epoch {epoch} is intact"
        then = f"then fcnn train resume={run_dir}"
    return f"{what.format(where=where)} writing {name}{about}; {state}: {todo}, {then}"
