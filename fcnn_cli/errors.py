"""The one error type users see: a bad setting or bad input, reported in one line, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

USAGE_EXIT = 2

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(Exception):
    """A setting or input the user can fix; the message names the setting and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Pickled between a sweep's worker processes and the sweep: rebuilt from both parts.
        return (type(self), (self.key, self.message))


def fail(message: str) -> None:
    """Print one line on stderr and exit with status 2."""
    print(f"fcnn: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(USAGE_EXIT)


def exits_on_usage_error(func: F) -> F:
    """Turn a UsageError raised by `func` into one line on stderr and exit status 2.

    Hydra would print its own traceback-ish report and exit 1 for an exception escaping the task,
    so the task function itself converts ours to SystemExit, which Hydra lets through.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as err:
            fail(str(err))

    return wrapper  # type: ignore[return-value]
