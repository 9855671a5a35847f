"""The errors fcnn reports, and the one table that maps each to its exit status and its line.

Deep code raises; only the entry points (`fcnn_cli.cli.main`, a SLURM job's process, the Python
API) turn an error into an exit status or an exception of their own, through `EXIT_STATUSES` and
`exit_status`. docs/reference/exit-status.md is generated from the table (`python -m
fcnn_cli.errors --write docs/reference/exit-status.md`; a test fails when it is stale).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass

USAGE_EXIT = 2
CRASH_EXIT = 1
FAULT_EXIT = 74  # sysexits.h EX_IOERR


class FcnnError(Exception):
    """An error fcnn reports in one line (`fcnn: error: LINE`), with the status `exit_status`."""

    exit_status = CRASH_EXIT


class UsageError(FcnnError):
    """A setting or input the user can fix; the message names the setting and what is allowed."""

    exit_status = USAGE_EXIT

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message

    @classmethod
    def line(cls, text: str) -> UsageError:
        """A usage error whose one line is `text` as it stands (it names its setting itself)."""
        return cls("", text)

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Pickled between a sweep's worker processes and the sweep: rebuilt from both parts.
        return (type(self), (self.key, self.message))


class MachineFault(FcnnError):
    """A fault of the machine while a run wrote its files (full disk, quota, read-only file
    system, permission); the line names the file and what to do (fcnn_cli.runs.faults)."""

    exit_status = FAULT_EXIT


class SweepFailed(FcnnError):
    """A sweep in which some job failed or was stopped; its summary has said which."""

    exit_status = CRASH_EXIT


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the command. A BaseException, as KeyboardInterrupt: no
    `except Exception` on the way may swallow it. `line` says what was kept (empty: said already).
    """

    def __init__(self, signum: int, line: str = "") -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)
        self.line = line

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


class Escalated(BaseException):
    """Carries an error out of code that turns every Exception into a warning (Hydra's
    callbacks) to the entry point, which reports the error it holds."""

    def __init__(self, error: FcnnError | Interrupted) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class ExitStatus:
    status: str
    raised_as: str
    what: str


#: Every exit status of `fcnn` and what it means; docs/reference/exit-status.md is this table.
EXIT_STATUSES = (
    ExitStatus("0", "", "the run (or every job of the sweep) ended: `completed`, or `diverged` "
               "(recorded as such)"),
    ExitStatus("1", "SweepFailed, any other exception",
               "a sweep in which some job failed (summary on stderr, `fcnn report` lists them), or "
               "a crash (a bug: its traceback is kept, and the run's `metrics.json` says `failed`)"),
    ExitStatus("2", "UsageError", "bad input: one line, `fcnn: error: KEY: what is wrong and what "
               "is allowed`; nothing ran and no run directory is left behind"),
    ExitStatus("74", "MachineFault",
               "a fault of the machine while a run wrote its files: a full disk, a quota, a "
               "read-only file system or a missing permission (`no space left on /mnt/x writing "
               "model.npz (about 2.1 MB needed); the checkpoint of epoch 2 is intact: free space, "
               "then fcnn train resume=DIR`); files are whole or absent, so `fcnn train "
               "resume=DIR` goes on once it is mended (74 is sysexits' EX_IOERR). A run directory "
               "that cannot be created is the user's input: 2"),
    ExitStatus("130, 143", "Interrupted",
               "stopped by SIGINT (Ctrl-C) or SIGTERM: after the current epoch, saved as "
               "`interrupted`, one line saying how to resume; see [Interrupting and resuming]"
               "(../topics/interrupt-and-resume.md)"),
)


def exit_status(error: BaseException) -> int:
    """The exit status of a command that ended with `error` (EXIT_STATUSES)."""
    if isinstance(error, Escalated):
        return exit_status(error.error)
    if isinstance(error, FcnnError | Interrupted):
        return error.exit_status
    return CRASH_EXIT


def statuses() -> list[int]:
    """Every exit status the table names, as numbers."""
    return [int(n) for row in EXIT_STATUSES for n in row.status.split(", ")]


def reference_page() -> str:
    """docs/reference/exit-status.md, written from EXIT_STATUSES."""
    rows = "\n".join(f"| {row.status} | {row.what} |" for row in EXIT_STATUSES)
    return f"""# Exit status

<!-- generated from fcnn_cli/errors.py (EXIT_STATUSES): python -m fcnn_cli.errors --write FILE -->

| exit status | what |
|---|---|
{rows}

The other commands follow the same rule: `fcnn evaluate` on a sweep exits 1 when it skipped a run
it could not evaluate, and any command exits 2 on bad input (a missing directory, a damaged model
file, a bad option), with one line and nothing written.

What is checked, and the messages, are in [When something is wrong](../topics/troubleshooting.md).
"""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """'did you mean X? ' for the choice spelled most like `name`, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(reference_page())
    else:
        print(reference_page(), end="")
