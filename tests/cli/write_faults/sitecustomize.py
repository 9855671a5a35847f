"""Loaded (as Python's sitecustomize hook) only by subprocesses whose PYTHONPATH names this
directory: FCNN_TEST_WRITE_FAULT="EDQUOT:model.npz" makes fcnn's atomic write of any file named
model.npz fail with that errno when it syncs, as a full quota or a failing disk would."""

import errno
import os

_RULE = os.environ.get("FCNN_TEST_WRITE_FAULT")

if _RULE:
    import fcnn_cli.atomic as _atomic

    _code, _name = _RULE.split(":", 1)
    _real_fsync = _atomic.os.fsync

    class _Os:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fsync(fd):
            if f".{_name}." in os.readlink(f"/proc/self/fd/{fd}"):
                raise OSError(getattr(errno, _code), os.strerror(getattr(errno, _code)))
            return _real_fsync(fd)

    _atomic.os = _Os()
