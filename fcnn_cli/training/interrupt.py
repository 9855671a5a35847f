"""Ctrl-C (SIGINT) and SIGTERM during training: stop after the current epoch and keep it.

One `SignalGuard` per process, installed by the entry point that owns the process (`fcnn train`,
a sweep's worker, a SLURM job, the Python API for the length of one call) and handed to the run
(fcnn_cli.training.run). During a run's setup (`SignalGuard.setup`) a signal raises Interrupted
at once: nothing worth keeping has been computed. From the first epoch on a signal only sets a
flag: the shared loop checks it between epochs (never inside an epoch, and so never inside a
compiled JAX call, whose donated buffers an exception would leave half consumed), and the run is
saved as `interrupted` with its checkpoint. A second signal is only noted.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fcnn_cli.errors import Interrupted, signal_name

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Skipped(Exception):  # noqa: N818 - it names what happened to the job
    """A sweep job that was not started because the sweep was interrupted (Hydra records a job
    whose task raises as failed; the job's directory is removed, so nothing else shows it)."""


class SignalGuard:
    """Catches SIGINT and SIGTERM (and `also`); remembers the first. See the module's docstring.

    At the first signal during training, the line `heard(signum)` (None: nothing) is said at
    once through `say` (stderr by default; the run path routes it above its progress bar).
    """

    def __init__(self, raising: bool = True, also: tuple[int, ...] = (),
                 heard: Callable[[int], str] | None = None) -> None:
        self.signum: int | None = None
        self.signals = (*SIGNALS, *also)
        self.heard = heard
        self.say: Callable[[str], None] = _say
        self._raising = raising
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self._raising:
            self._raising = False  # one Interrupted is enough; later signals are only noted
            raise Interrupted(signum)
        if first and self.heard is not None:
            self.say(self.heard(signum))

    def install(self) -> SignalGuard:
        """Catch the signals in this process until `uninstall`. Outside the main thread, where
        Python cannot install handlers, nothing is caught (the flag stays down)."""
        if threading.current_thread() is threading.main_thread() and not self._previous:
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        """Put back the handlers found at `install`."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def requested(self) -> bool:
        """Whether a signal asked the process to stop."""
        return self.signum is not None

    def defer(self) -> None:
        """From now on a signal only sets the flag (for the training, and a sweep's waiting)."""
        self._raising = False

    def ignore_more(self) -> None:
        """Ignore every later signal: the process is ending (Python would restore the default
        handlers while it shuts down, and a late Ctrl-C would then change the exit status)."""
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_IGN)

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


def heard_line(signum: int, sweep: bool = False) -> str:
    """What a run (or a sweep) says at once when the first signal arrives during training."""
    again = "Ctrl-C" if signum == signal.SIGINT else "another signal"
    what = ("stopping the running jobs after their epoch, then saving; the jobs not started are "
            "skipped" if sweep else "stopping after this epoch, then saving")
    return f"fcnn: {signal_name(signum)} received: {what}; {again} is ignored meanwhile"


def _say(line: str) -> None:
    """`line` on stderr, on a line of its own (a terminal's line is cleared first)."""
    print(f"\r\033[K{line}" if sys.stderr.isatty() else line, file=sys.stderr, flush=True)
