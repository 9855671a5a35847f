"""The `fcnn` command: a small dispatcher in front of Hydra applications and plain subcommands.

Kept free of heavy imports so that `fcnn --help` answers instantly.
"""

from __future__ import annotations

import importlib
import os
import sys

from fcnn_cli import __version__
from fcnn_cli.errors import fail

HELP = f"""\
usage: fcnn <command> [args]

fcnn {__version__}: train, sweep, benchmark and compare fully connected neural networks.

commands:
  train [overrides]   train one model (Hydra app: --help, --cfg job, -m for sweeps)
  bench [overrides]   time the lab's timing job on every backend against this machine's floor
  data fetch|info     fetch MNIST into the data cache / show what is cached and verified
  report [DIR ...]    tabulate runs and sweeps (--sort COLUMN); writes report.csv/.md/.png
  evaluate RUN_DIR    re-score a trained model (--split test|train|val): per-class scores,
                      confusion matrix, its worst mistakes; writes eval.json and figures
  predict RUN_DIR INPUT
                      label new inputs (IDX file, .npy array, folder of PNGs) as CSV
  problems --autoencoder DIR --bottleneck DIR
                      the answer table of Problems 5.2 and 5.3 from their two searches
  completion SHELL    print the tab-completion script for bash, zsh or fish
                      (bash: source <(fcnn completion bash))

examples:
  fcnn train backend=numpy struct=[500,250] lr=0.1
  fcnn train dataset=digits max_epochs=20
  fcnn train -m lr=0.1,0.05 batch_size=50,100
  fcnn train experiment=ex5_2
  fcnn evaluate outputs/2026-11-28/09-37-13.123456 --split val
  fcnn train --help          (every config key and group)
"""

# command -> (module, attribute): Hydra apps take Hydra's command line; the rest take argv.
HYDRA_APPS = {
    "train": ("fcnn_cli.train", "hydra_task", "config"),
    "bench": ("fcnn_cli.bench", "hydra_task", "bench"),
}
PLAIN_COMMANDS = {
    "data": ("fcnn_cli.data_command", "main"),
    "report": ("fcnn_cli.report", "main"),
    "evaluate": ("fcnn_cli.evaluate", "main"),
    "predict": ("fcnn_cli.predict", "main"),
    "problems": ("fcnn_cli.problems", "main"),
    "completion": ("fcnn_cli.completion", "main"),
}


def run_hydra_app(command: str, args: list[str]) -> None:
    from fcnn_cli.completion import handle_hydra_flag

    if handle_hydra_flag(command, args):  # -sc install|uninstall|query=SHELL
        return
    import hydra

    from fcnn_cli import quiet
    from fcnn_cli.hydra_errors import run_app
    from fcnn_cli.hydra_hooks import register_plugins
    from fcnn_cli.paths import conf_dir

    quiet.setup()

    if command == "train":
        from fcnn_cli import interrupt

        # Ctrl-C and SIGTERM: stop after the current epoch and keep it (fcnn_cli.interrupt).
        interrupt.install()
    module_name, attribute, config_name = HYDRA_APPS[command]
    task = getattr(importlib.import_module(module_name), attribute)
    app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=config_name)(task)
    sys.argv = [f"fcnn {command}", *args]
    register_plugins()
    # Run and sweep directories are claimed, never reused, by fcnn_cli.hydra_hooks.RunDirectories.
    run_app(app)


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except KeyboardInterrupt:  # Ctrl-C where no handler of fcnn's catches it (start-up, report)
        print("fcnn: interrupted", file=sys.stderr, flush=True)
        raise SystemExit(130) from None


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(HELP, end="")
        raise SystemExit(0 if args else 2)
    if args[0] in ("-V", "--version"):
        print(f"fcnn {__version__}")
        return
    command, rest = args[0], args[1:]
    if command in HYDRA_APPS:
        run_hydra_app(command, rest)
    elif command in PLAIN_COMMANDS:
        module_name, attribute = PLAIN_COMMANDS[command]
        try:
            status = getattr(importlib.import_module(module_name), attribute)(rest)
            sys.stdout.flush()
        except BrokenPipeError:
            # `fcnn report ... | head`: the reader left; say nothing more, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            status = 1
        raise SystemExit(status)
    else:
        fail(f"unknown command {command!r}; choose one of {', '.join([*HYDRA_APPS, *PLAIN_COMMANDS])}")
