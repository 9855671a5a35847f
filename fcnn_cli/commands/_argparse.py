"""argparse for fcnn's plain subcommands, with fcnn's one-line errors."""

from __future__ import annotations

import argparse

from fcnn_cli.errors import UsageError


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are `fcnn: error: <command>: <message>`, exit status 2,
    instead of argparse's usage block. Subparsers (`fcnn data fetch`) are of the same class."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("fcnn").strip() or "fcnn"
        raise UsageError.line(f"{command}: {message}")
