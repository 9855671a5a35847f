"""Running one of fcnn's Hydra applications (`fcnn train`, `fcnn bench`) over fcnn's config tree,
with fcnn's plugins registered, a quiet terminal and Hydra's errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fcnn_cli.hydra_app.callbacks import register_plugins
from fcnn_cli.hydra_app.errors import run_app
from fcnn_cli.paths import conf_dir

#: Hydra's flags that take no value, and those that take one (hydra/_internal/utils.py's parser)
_BARE_FLAGS = {"-m", "--multirun", "-r", "--run", "--resolve"}
_VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
                "-cd", "--config-dir"}


def flags_first(args: list[str]) -> list[str]:
    """`args` with Hydra's flags (and their values) before the overrides, each group in its order.

    Hydra's parser takes the overrides as one run of positional arguments, so a flag between two
    overrides (`fcnn train dataset=digits -m lr=0.1,0.2`, as people type it) ended in argparse's
    "unrecognized arguments" and its five lines of usage.
    """
    flags: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _BARE_FLAGS:
            flags.append(arg)
        elif arg in _VALUE_FLAGS and i + 1 < len(args):
            flags += args[i:i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return flags + rest


def check_flags(command: str, args: list[str]) -> None:
    """Hydra's own parser over `args`, its errors as fcnn's one line (argparse prints five lines
    of usage first): `fcnn train --multrun` says what is wrong and where the flags are listed."""
    from hydra._internal.utils import get_args_parser

    from fcnn_cli.errors import fail

    parser = get_args_parser()

    def error(message: str) -> None:
        fail(f"{message} (`fcnn {command} --hydra-help` lists Hydra's flags)")

    parser.error = error  # type: ignore[method-assign]
    parsed = parser.parse_args(args)
    if parsed.multirun and command == "bench":
        # Its sweep would run, then be counted as failed runs of `fcnn train` (no metrics.json).
        fail("-m: fcnn bench times its job on every backend in one run and does not sweep; run it "
             "once per setting (e.g. fcnn bench optimizer=adam)")


def run(command: str, task: Callable[[Any], Any], config_name: str, args: list[str]) -> None:
    """Run `task` as the Hydra app `fcnn COMMAND` with command line `args`."""
    import hydra

    from fcnn_cli.config import schema
    from fcnn_cli.hydra_app import quiet

    args = flags_first(args)
    check_flags(command, args)
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
