"""Running one of fcnn's Hydra applications (`fcnn train`, `fcnn bench`) over fcnn's config tree,
with fcnn's plugins registered, a quiet terminal and Hydra's errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
    from hydra._internal.utils import get_args_parser

    from fcnn_cli.errors import fail

    parser = get_args_parser()

    def error(message: str) -> None:
        fail(f"{message} (`fcnn {command} --hydra-help` lists Hydra's flags)")

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
        fail("-m: fcnn bench times its job on every backend in one run and does not sweep; run it "
             "once per setting (e.g. fcnn bench optimizer=adam)")
    return flags + rest


def run(command: str, task: Callable[[Any], Any], config_name: str, args: list[str]) -> None:
    """Run `task` as the Hydra app `fcnn COMMAND` with command line `args`."""
    import hydra

    from fcnn_cli.config import schema
    from fcnn_cli.hydra_app import quiet

    args = hydra_args(command, args)
    quiet.setup()
    schema.register()  # the keys' defaults, as the config node conf/*.yaml list first
    if command == "train":
        from fcnn_cli.training import interrupt

        # Ctrl-C and SIGTERM: stop after the current epoch and keep it (fcnn_cli.training.interrupt).
        interrupt.install()
        from fcnn_cli.errors import UsageError, fail
        from fcnn_cli.hydra_app import continuation

        try:  # `-m resume=SWEEP_DIR`: the sweep's own command line, in its own directory
            args = continuation.rewrite(args)
        except UsageError as err:
            fail(str(err))
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=config_name)(task)
    sys.argv = [f"fcnn {command}", *args]
    register_plugins()
    # Run and sweep directories are claimed, never reused, by callbacks.RunDirectories.
    run_app(app)
