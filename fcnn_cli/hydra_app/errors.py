"""Hydra's own errors (unknown key, bad override syntax, unknown group option) as fcnn reports
its own: one line naming the setting, exit status 2.

Hydra would print a multi-line report and exit with status 1 for these, the same status as a
crash in the task. `run_app` lets exceptions come out of Hydra (HYDRA_FULL_ERROR=1) and sorts
them: configuration errors become one line and status 2; anything else is a crash and keeps its
traceback (status 1). HYDRA_FULL_ERROR=1 set by the user keeps Hydra's full report for all.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fcnn_cli.errors import Escalated, FcnnError, Interrupted, UsageError

if TYPE_CHECKING:
    from fcnn_cli.hydra_app.session import Session

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def run_app(app: Callable[[], Any], session: Session) -> None:
    """Run a `hydra.main` application and raise the typed error it ended with: Hydra's
    configuration errors become a UsageError of one line; a crash in a task is raised as it is
    (the entry point keeps its traceback). Directories claimed for a start that was refused or
    interrupted before training are removed."""
    try:
        with _errors_out_of_hydra():
            app()
        if session.error is not None:  # what a single run's task ended with (guarded_task)
            raise session.error
    except Escalated as err:  # from a callback (Hydra turns a callback's Exception into a warning)
        session.claims.discard_unfinished()
        raise err.error from None
    except UsageError:
        session.claims.discard_unfinished()  # a refused command line leaves no directory behind
        raise
    except Interrupted as err:
        session.claims.discard_unfinished()
        if not err.line:  # a signal while fcnn train started up, before any training
            raise Interrupted(err.signum, f"fcnn: interrupted ({err}) before the first epoch "
                                          "ended; nothing was saved") from None
        raise
    except FcnnError:
        raise
    except Exception as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # the user asked for Hydra's full report
            raise
        line = one_line(err)
        if line is None and not session.task_started:
            # Before any task ran, whatever went wrong came from the command line or the config:
            # most often a group given something else than option names, which Hydra's message
            # (if any) does not name.
            line = _group_value(sys.argv[1:]) or (
                f"cannot run this command line: {type(err).__name__}: {_collapse(str(err))}")
        if line is not None:
            session.claims.discard_unfinished()
            raise UsageError.line(line) from None
        raise


@contextlib.contextmanager
def _errors_out_of_hydra() -> Iterator[None]:
    """Hydra prints its own report of an error and exits 1 unless HYDRA_FULL_ERROR=1, which lets
    the exception out to be sorted here; the user's own setting is put back afterwards."""
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


def one_line(err: BaseException) -> str | None:
    """A one-line message for a Hydra or OmegaConf configuration error; None for anything else."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
        SearchPathException,
    )
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(err, MissingConfigException):
        return _missing_option(err)
    if isinstance(err, OverrideParseException):
        lines = [line.strip() for line in err.message.splitlines()
                 if line.strip() and not line.startswith(("Error parsing override", "See http"))]
        split = _split_by_a_space(err.override, sys.argv[1:])
        if split is not None:
            return split
        reason = lines[0] if lines else "not in Hydra's override grammar"
        return f"cannot parse the override {err.override!r}: {reason} (grammar: {GRAMMAR})"
    if isinstance(err, ConfigCompositionException | SearchPathException | OmegaConfBaseException):
        return _composition(err)
    from hydra.errors import HydraException

    if isinstance(err, HydraException):
        return _collapse(str(err))
    return None


def _split_by_a_space(override: str | None, args: list[str]) -> str | None:
    """The override the shell cut at a space in a list (`struct=[500 250]` reaches fcnn as
    'struct=[500' and '250]'): how to write it whole. None when the override is not such a piece.
    (Quoting would not do: Hydra reads '[500 250]' as a list of one string.)"""
    if not override or "=" not in override or override not in args:
        return None
    opened = _depth(override)
    if opened <= 0:
        return None
    rest = args[args.index(override) + 1:]
    pieces = [override]
    for piece in rest:  # up to the piece that closes it, if any
        if "=" in piece.split("[", 1)[0]:
            break
        pieces.append(piece)
        opened += _depth(piece)
        if opened <= 0:
            break
    if len(pieces) == 1:  # nothing after it: an override left open, which Hydra's words say
        return None
    key, typed = override.split("=", 1)[0], " ".join(pieces)
    joined = typed.split("=", 1)[1].replace(", ", ",").replace(" ", ",")
    return (f"{key}: the shell cut {typed!r} at its spaces; write it with commas and no spaces: "
            f"{key}={joined}")


def _depth(text: str) -> int:
    """How many brackets `text` opens and does not close."""
    return sum(text.count(c) for c in "[{(") - sum(text.count(c) for c in "]})")


def _group_value(args: list[str]) -> str | None:
    """The group given something else than an option name (or a list of them), if any: Hydra's
    errors for it ('Config group override must be a string or a list', a TypeError for a list
    of numbers) name no group."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from fcnn_cli.paths import conf_dir

    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if "=" in a])
    except Exception:  # noqa: BLE001 - then Hydra's own words will do
        return None
    for override in overrides:
        group = conf_dir() / override.key_or_group
        value = override.value()
        names = value if isinstance(value, list) else [value]
        if group.is_dir() and not all(isinstance(name, str) for name in names):
            options = sorted(p.stem for p in group.glob("*.yaml"))
            leave_out = f" (to leave it out: ~{override.key_or_group})" if value is None else ""
            return (f"{override.key_or_group}: takes the name of an option, got {value!r}; "
                    f"choose one of {', '.join(options)}{leave_out}")
    return None


def _missing_option(err: Any) -> str:
    """'Could not find backend/torch' with the available options, as one line."""
    text = str(err)
    found = re.search(r"Could not (?:find|load) '([^']+)'", text)
    options = err.options or []
    if found and "/" in found.group(1):
        group, option = found.group(1).rsplit("/", 1)
        if options:
            return f"{group}: no option {option!r}; choose one of {', '.join(options)}"
        return f"{group}: no option {option!r}"
    return _collapse(text)


def _composition(err: BaseException) -> str:
    """An override Hydra could not apply: unknown key, a value of the wrong type, ..."""
    text = str(err)
    cause = err.__cause__ or err
    key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
    ambiguous = re.search(r"Ambiguous value for argument '([^'=]+)=([^']*)'", text)
    if ambiguous:
        from fcnn_cli.hydra_app.command_line import one_value_hint

        key, value = ambiguous.groups()
        return f"{key}: {one_value_hint(key, value)}"
    present = re.search(r"An item is already at '([^']+)'", text)
    if present:  # +KEY=VALUE for a key the config has: the user meant KEY=VALUE
        name = present.group(1)
        return f"{name}: is a setting already: write {name}=VALUE, without the +"
    unknown = re.search(r"Could not override '([^']+)'", text)
    if unknown and "not in struct" in str(cause):
        from fcnn_cli.config.suggest import no_such_setting

        name = unknown.group(1)
        return f"{name}: {no_such_setting(name, _app())}"
    first = _first_line(text)
    detail = _first_line(str(cause)) if cause is not err else ""
    message = first if not detail or detail in first else f"{first} {detail}"
    return f"{key}: {message}" if key and not message.startswith(f"{key}:") else message


def _app() -> str:
    """The app running: `fcnn_cli.hydra_app.app.run` names it in sys.argv[0] ("fcnn bench")."""
    from fcnn_cli.config.schema import BENCH, TRAIN

    return BENCH if sys.argv and sys.argv[0] == f"fcnn {BENCH}" else TRAIN


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _collapse(text: str) -> str:
    """A multi-line Hydra message as one line, without the config search path listing."""
    lines = []
    for line in str(text).splitlines():
        if line.startswith(("Config search path", "Set the environment variable HYDRA_FULL")):
            break
        if line.strip():
            lines.append(line.strip())
    return "; ".join(lines)
