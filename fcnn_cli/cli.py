"""The `fcnn` command: a small dispatcher over the command table (fcnn_cli.commands).

Kept free of heavy imports so that `fcnn --help` answers instantly.
"""

from __future__ import annotations

import os
import sys

from fcnn_cli._version import __version__
from fcnn_cli.commands import COMMANDS
from fcnn_cli.errors import UsageError, did_you_mean

EXAMPLES = """\
examples:
  fcnn train backend=numpy struct=[500,250] lr=0.1
  fcnn train dataset=digits max_epochs=20
  fcnn train -m lr=0.1,0.05 batch_size=50,100
  fcnn train experiment=ex5_2
  fcnn evaluate outputs/2026-11-28/09-37-13.123456 --split val
  fcnn train --help          (every config key and group)
"""


def help_text() -> str:
    """`fcnn --help`: every command of the table with its summary."""
    lines = ["usage: fcnn <command> [args]", "",
             f"fcnn {__version__}: train, sweep, benchmark and compare fully connected neural "
             "networks.", "", "commands:"]
    for command in COMMANDS.values():
        summary = command.summary.split("\n")
        if len(command.usage) <= 18:
            lines.append(f"  {command.usage:<18}  {summary[0]}")
        else:
            lines += [f"  {command.usage}", f"  {'':<18}  {summary[0]}"]
        lines += [f"  {'':<18}  {more}" for more in summary[1:]]
    return "\n".join(lines) + "\n\n" + EXAMPLES


def main(argv: list[str] | None = None) -> None:
    """The `fcnn` entry point: the only place the process's exit status is decided, from the
    error a command ended with (fcnn_cli.errors.EXIT_STATUSES)."""
    try:
        status = _main(argv)
    except BrokenPipeError:
        # `fcnn report ... | head`: the reader left; say nothing more, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    except BaseException as err:  # noqa: BLE001 - sorted by the exit table
        status = _report(err)
    raise SystemExit(status)


def _report(err: BaseException) -> int:
    """Say why the command ended, in one line (a crash keeps its traceback); its exit status."""
    import signal
    import traceback

    from fcnn_cli.errors import Escalated, FcnnError, Interrupted, exit_status

    if isinstance(err, Escalated):
        err = err.error
    if isinstance(err, KeyboardInterrupt):  # Ctrl-C where no handler of fcnn's catches it
        err = Interrupted(signal.SIGINT, "fcnn: interrupted")
    if isinstance(err, SystemExit):
        return err.code if isinstance(err.code, int) else 1
    if isinstance(err, Interrupted):
        # Later signals are ignored: Python would restore the default handlers while it shuts
        # down, and a late Ctrl-C would then change the exit status.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        if err.line:
            print(err.line, file=sys.stderr, flush=True)
    elif isinstance(err, FcnnError):
        if str(err):
            print(f"fcnn: error: {err}", file=sys.stderr, flush=True)
    elif isinstance(err, Exception):
        traceback.print_exc()
        print(f"fcnn: error: the run crashed: {type(err).__name__}: {err}", file=sys.stderr)
    else:
        raise err
    return exit_status(err)


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(help_text(), end="")
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        print(f"fcnn {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        raise UsageError.line(f"unknown command {name!r}; {did_you_mean(name, COMMANDS)}choose one of "
             f"{', '.join(COMMANDS)}")
    from fcnn_cli import commands

    if COMMANDS[name].is_hydra_app:
        from fcnn_cli.commands.completion import handle_hydra_flag

        if handle_hydra_flag(name, rest):  # Hydra's -sc install|uninstall|query=SHELL
            return 0
    status = commands.run(name, rest)
    sys.stdout.flush()
    return status
