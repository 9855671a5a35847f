"""The `fcnn` command: a small dispatcher over the command table (fcnn_cli.commands).

Kept free of heavy imports so that `fcnn --help` answers instantly.
"""

from __future__ import annotations

import os
import sys

from fcnn_cli._version import __version__
from fcnn_cli.commands import COMMANDS
from fcnn_cli.errors import did_you_mean, fail

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
    try:
        _main(argv)
    except KeyboardInterrupt:  # Ctrl-C where no handler of fcnn's catches it (start-up, report)
        print("fcnn: interrupted", file=sys.stderr, flush=True)
        raise SystemExit(130) from None


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(help_text(), end="")
        raise SystemExit(0 if args else 2)
    if args[0] in ("-V", "--version"):
        print(f"fcnn {__version__}")
        return
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        fail(f"unknown command {name!r}; {did_you_mean(name, COMMANDS)}choose one of "
             f"{', '.join(COMMANDS)}")
    from fcnn_cli import commands

    if COMMANDS[name].is_hydra_app:
        from fcnn_cli.commands.completion import handle_hydra_flag

        if handle_hydra_flag(name, rest):  # Hydra's -sc install|uninstall|query=SHELL
            return
    try:
        status = commands.run(name, rest)
        sys.stdout.flush()
    except BrokenPipeError:
        # `fcnn report ... | head`: the reader left; say nothing more, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    raise SystemExit(status)
