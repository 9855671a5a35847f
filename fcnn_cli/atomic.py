"""Files that are either whole or absent: written aside in the same directory, synced, renamed.

A reader (`fcnn report`, a parallel sweep job, a later run) never sees half a file, and a crash or
a kill while writing leaves the previous version (or nothing) in place, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class WriteFailed(OSError):
    """Writing `path` failed (disk full, quota, read-only, permission): the OSError's errno and
    reason, the real file's name rather than its temporary twin's, and `needed`: about how many
    bytes the write needs (the previous version's size, else what was written before it failed:
    then `at_least` is true), None when unknown."""

    def __init__(self, err: OSError, path: Path, needed: int | None, at_least: bool = False) -> None:
        super().__init__(err.errno, err.strerror or str(err), str(path))
        self.needed = needed
        self.at_least = at_least


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to `path` for writing; on success it replaces `path`.

    `mode` is "w" (text) or "wb" (binary); other keyword arguments go to `open` (newline=...).
    On an exception the temporary file is removed and `path` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes only: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    # Same directory: rename is atomic only within one file system. The name starts with a dot
    # and ends in .tmp so that nothing globbing for the real name picks it up.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise WriteFailed(err, path, _size(path)) from err
    tmp = Path(tmp_name)
    written = 0
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            written = f.tell()
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions an ordinary open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        written = written or _size(tmp) or 0
        tmp.unlink(missing_ok=True)
        if isinstance(err, WriteFailed):
            raise
        previous = _size(path)
        raise WriteFailed(err, path, previous or written or None, at_least=not previous) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def write_text(path: Path | str, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def _umask() -> int:
    # os.umask can only be read by setting it; done once per process.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (the directory entry), where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)
