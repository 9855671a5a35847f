"""Running one of fcnn's Hydra applications (`fcnn train`, `fcnn bench`) over fcnn's config tree,
with fcnn's plugins registered, a quiet terminal and Hydra's errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcnn_cli.hydra_app.callbacks import register_plugins
from fcnn_cli.hydra_app.errors import run_app
from fcnn_cli.paths import conf_dir


def hydra_args(command: str, args: list[str]) -> list[str]:
    """`args` checked by Hydra's own parser, with its flags (and their values) moved before the
    overrides, each group in its order.

    Hydra's parser takes the overrides as one run of positional arguments, so a flag between two
    overrides (`fcnn train dataset=digits -m lr=0.1,0.2`, as people type it) ended in argparse's
    "unrecognized arguments" under five lines of usage; its errors are fcnn's one line here.
    A flag with an optional value (`--info`) stays where it is.
    """
    from fcnn_cli.errors import UsageError
    from fcnn_cli.hydra_app.private_hydra import args_parser

    parser = args_parser()

    def error(message: str) -> None:
        from fcnn_cli.hydra_app.command_line import unknown_flag

        flags = {option for action in parser._actions for option in action.option_strings}
        raise UsageError.line(unknown_flag(command, args, flags) or
                              f"{message} (`fcnn {command} --hydra-help` lists Hydra's flags)")

    parser.error = error  # type: ignore[method-assign]
    # How many values each flag takes, as the parser declares them (0: a switch).
    arity = {option: 0 if action.nargs == 0 else 1 for action in parser._actions
             if action.nargs in (0, None) for option in action.option_strings}
    flags: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        taken = arity.get(args[i])
        if taken is None or i + taken >= len(args):
            rest.append(args[i])
        else:
            flags += args[i:i + 1 + taken]
            i += taken
        i += 1
    if parser.parse_args(flags + rest).multirun and command == "bench":
        # Its sweep would run, then be counted as failed runs of `fcnn train` (no metrics.json).
        raise UsageError("-m", "fcnn bench times its job on every backend in one run and does "
                               "not sweep; run it once per setting (e.g. fcnn bench optimizer=adam)")
    return flags + rest


def register_defaults() -> None:
    """Store each app's defaults (the settings schema's) in Hydra's ConfigStore, as the config
    nodes conf/config.yaml and conf/bench.yaml list first (before Hydra composes a config)."""
    from hydra.core.config_store import ConfigStore

    from fcnn_cli.config import schema

    store = ConfigStore.instance()
    for app, node in schema.NODES.items():
        store.store(name=node, node=schema.primary_defaults(app))


@dataclass(frozen=True)
class Outcome:
    """What a command that ended well leaves: a single run's metrics and directory, or a
    sweep's directory."""

    metrics: dict[str, Any] | None = None
    run_dir: Path | None = None
    sweep_dir: Path | None = None


def run(command: str, task: Callable[[Any], Any], config_name: str, args: list[str]) -> Outcome:
    """Run `task` as the Hydra app `fcnn COMMAND` with command line `args`, and say what it left.
    Raises the typed error it ended with otherwise (fcnn_cli.errors), for the entry point to
    report: bad input, a failed sweep, a signal (Interrupted), a fault of the machine; the error
    carries, as `outcome`, what the command left all the same. The process is left as found:
    signal handlers, sys.argv and Hydra's global state."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    from fcnn_cli.errors import FcnnError, Interrupted
    from fcnn_cli.hydra_app import quiet
    from fcnn_cli.hydra_app import session as sessions
    from fcnn_cli.training.interrupt import SignalGuard, heard_line, stopped_line

    args = hydra_args(command, args)
    quiet.setup()
    register_defaults()  # the keys' defaults, as the config node conf/*.yaml list first
    # Ctrl-C and SIGTERM: stop after the current epoch and keep it (fcnn_cli.training.interrupt).
    guard = SignalGuard(raising=True, heard=heard_line)
    session = sessions.begin(command, guard, install=command == "train")
    argv = sys.argv
    try:
        if command == "train":
            from fcnn_cli.hydra_app.sweeps import continuation

            # `-m resume=SWEEP_DIR`: the sweep's own command line, in its own directory
            args, session.continuation = continuation.plan(args)
        from fcnn_cli.hydra_app import command_line

        command_line.check(command, args)
        app = hydra.main(version_base="1.3", config_path=str(conf_dir()),
                         config_name=config_name)(task)
        sys.argv = [f"fcnn {command}", *args]  # hydra.main reads its command line from here
        register_plugins()
        # Run and sweep directories are claimed, never reused, by callbacks.RunDirectories.
        run_app(app, session)
        if session.result is not None and guard.signum is not None:
            metrics, run_dir = session.result
            raise Interrupted(guard.signum, stopped_line(metrics, run_dir))
        metrics, run_dir = session.result or (None, None)
        return Outcome(metrics, run_dir, session.sweep_dir)
    except (FcnnError, Interrupted) as err:
        # What the command left all the same (an interrupted run, a failed sweep's directory),
        # for the Python API to hand back with the error.
        err.outcome = Outcome(*(session.result or (None, None)), session.sweep_dir)
        raise
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
        sessions.end()

