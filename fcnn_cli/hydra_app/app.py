"""Running one of fcnn's Hydra applications (`fcnn train`, `fcnn bench`) over fcnn's config tree,
with fcnn's plugins registered, a quiet terminal and Hydra's errors as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from fcnn_cli.hydra_app.callbacks import register_plugins
from fcnn_cli.hydra_app.errors import run_app
from fcnn_cli.paths import conf_dir


def run(command: str, task: Callable[[Any], Any], config_name: str, args: list[str]) -> None:
    """Run `task` as the Hydra app `fcnn COMMAND` with command line `args`."""
    import hydra

    from fcnn_cli.config import schema
    from fcnn_cli.hydra_app import quiet

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
