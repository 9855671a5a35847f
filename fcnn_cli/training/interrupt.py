"""Ctrl-C (SIGINT) and SIGTERM during `fcnn train`: stop after the current epoch and keep it.

`fcnn train` installs one `SignalGuard` for its whole process (`install`). Until training begins
a signal raises `Interrupted` at once: nothing worth keeping has been computed, and loading data
or composing the config can be abandoned anywhere. From the first epoch on (`SignalGuard.setup`
ends) a signal only sets a flag: the shared loop checks it between epochs (never inside an
epoch, and so never inside a compiled JAX call, whose donated buffers an exception would leave
half consumed), the run is saved as `interrupted` with its checkpoint, and the process exits
with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). A second signal while the
results are saved is only noted: the save runs to its end, and every file is atomic anyway.

In a sweep the same flag stops the running job after its epoch and skips the jobs that had not
started; the sweep then ends with its summary and the same exit status.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal arrived before training began (nothing to keep). A BaseException, as
    KeyboardInterrupt: no `except Exception` on the way may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


class Skipped(Exception):  # noqa: N818 - it names what happened to the job
    """A sweep job that was not started because the sweep was interrupted (Hydra records a job
    whose task raises as failed; the job's directory is removed, so nothing else shows it)."""


class SignalGuard:
    """Catches SIGINT and SIGTERM; remembers the first one. See the module's docstring."""

    def __init__(self, raising: bool) -> None:
        self.signum: int | None = None
        self._raising = raising

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        if self._raising:
            self._raising = False  # one Interrupted is enough; later signals are only noted
            raise Interrupted(signum)

    def requested(self) -> bool:
        """Whether a signal asked the process to stop."""
        return self.signum is not None

    def defer(self) -> None:
        """From now on a signal only sets the flag (for the training, and a sweep's waiting)."""
        self._raising = False

    @contextlib.contextmanager
    def setup(self) -> Iterator[None]:
        """A run's setup (config, data, checks): a signal raises Interrupted at once, also one
        that came before (between two jobs of a sweep). Afterwards signals are deferred."""
        if self.signum is not None:
            raise Interrupted(self.signum)
        self._raising = True
        try:
            yield
        finally:
            self._raising = False


_guard: SignalGuard | None = None


def install(raising: bool = True, also: tuple[int, ...] = ()) -> SignalGuard | None:
    """Catch SIGINT and SIGTERM, and the signals `also` names, in this process from now on (once;
    later calls return the same guard). None outside the main thread, where Python cannot install
    signal handlers. A SLURM job adds SIGUSR2, its time-limit warning (fcnn_cli.hydra_app.requeue)."""
    global _guard
    if _guard is None and threading.current_thread() is threading.main_thread():
        guard = SignalGuard(raising)
        for signum in (*SIGNALS, *also):
            signal.signal(signum, guard._handle)
        _guard = guard
    return _guard


def current() -> SignalGuard | None:
    """The guard `install` put in place, if any (none in library use: FCNNClassifier)."""
    return _guard


def defer() -> None:
    """Signals only set the flag from now on (a sweep's process, while its jobs run)."""
    if _guard is not None:
        _guard.defer()


def received() -> int | None:
    """The first signal this process received, if it was caught."""
    return None if _guard is None else _guard.signum


def exit_status(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number."""
    return 128 + int(signum)


def leave(signum: int) -> NoReturn:
    """End the process with 128 + `signum`, whatever signal comes after: they are ignored from
    here on (Python would restore the default handlers while it shuts down, and a late Ctrl-C
    would then kill it and change the exit status)."""
    if threading.current_thread() is threading.main_thread():
        for other in SIGNALS:
            signal.signal(other, signal.SIG_IGN)
    raise SystemExit(exit_status(signum))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def resume_command(run_dir: Path | str) -> str:
    """The command line that continues the run in `run_dir`."""
    return f"fcnn train resume={shlex.quote(str(run_dir))}"


def stopped_line(metrics: dict, run_dir: Path | str) -> str:
    """The one line a run stopped by a signal ends with: how far it got, and how to go on."""
    done, planned = metrics.get("epochs_completed"), metrics.get("max_epochs")
    status = metrics.get("status")
    if status == "interrupted":
        return (f"fcnn: interrupted after {done}/{planned} epochs; resume with: "
                f"{resume_command(run_dir)}")
    return f"fcnn: interrupted after {done}/{planned} epochs: the run {status}; run directory {run_dir}"
