"""The state of one `fcnn train` or `fcnn bench` in this process, in one object.

Hydra builds its callbacks, sweepers and launchers itself, from the config, so they cannot be
handed what they share; they find it here: the signal guard, the directories this process
claimed, the sweep being continued, the jobs a sweep expects, and what the single run ended
with. `begin` makes it at the entry (fcnn_cli.hydra_app.app.run) and `end` drops it, handlers
and locks included, so the same process can run fcnn again (the Python API). A sweep's worker
process, or a SLURM job's, has no entry of fcnn's: `current` makes its session on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcnn_cli.runs.claim import Claims
from fcnn_cli.training.interrupt import SignalGuard

#: What a continued sweep does with each job (fcnn_cli.hydra_app.sweeps.continuation.classify).
KEPT, RESUMED, RERUN = "kept", "resumed", "rerun"


@dataclass
class Continuation:
    """A sweep being continued (`-m resume=SWEEP_DIR`): its directory, and what became of each
    job."""

    sweep_dir: Path
    jobs: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for k in self.jobs.values() if k == kind) for kind in (KEPT, RESUMED, RERUN)}


@dataclass
class Session:
    command: str
    guard: SignalGuard
    claims: Claims = field(default_factory=Claims)
    #: `-m resume=SWEEP_DIR`: the sweep this process continues
    continuation: Continuation | None = None
    #: the file descriptor holding a sweep directory's lock while the sweep runs
    held: int | None = None
    #: each sweep's job directories, as composed before any job ran (absolute sweep dir -> dirs)
    expected: dict[Path, list[Path]] = field(default_factory=dict)
    #: whether a task function began: errors before that are the command line's or the config's
    task_started: bool = False
    #: a single run's metrics and directory, once it ended
    result: tuple[dict[str, Any], Path] | None = None
    #: the error a single run's task ended with, raised once Hydra has returned
    error: BaseException | None = None
    #: a sweep's directory, once claimed
    sweep_dir: Path | None = None

    def close(self) -> None:
        self.guard.uninstall()
        if self.held is not None:
            os.close(self.held)
            self.held = None


_current: Session | None = None


def begin(command: str, guard: SignalGuard, install: bool = True) -> Session:
    """The session of the command starting now, with its guard installed (`install`)."""
    global _current
    end()
    _current = Session(command, guard.install() if install else guard)
    return _current


def current() -> Session:
    """This process's session; in a worker process (joblib, SLURM) one is made on first use,
    whose guard only sets the flag: a signal stops the job after its epoch."""
    global _current
    if _current is None:
        _current = Session("train", SignalGuard(raising=False).install())
    return _current


def end() -> None:
    """Drop the session: its signal handlers put back, its locks released."""
    global _current
    if _current is not None:
        _current.close()
        _current = None
