"""The one error type users see: a bad setting or bad input, reported in one line, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Iterable

USAGE_EXIT = 2


class UsageError(Exception):
    """A setting or input the user can fix; the message names the setting and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Pickled between a sweep's worker processes and the sweep: rebuilt from both parts.
        return (type(self), (self.key, self.message))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """'did you mean X? ' for the choice spelled most like `name`, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def fail(message: str) -> None:
    """Print one line on stderr and exit with status 2."""
    print(f"fcnn: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(USAGE_EXIT)
