"""The command table: every `fcnn` subcommand, where it lives, and its one-line summary.

Read by the dispatcher (`fcnn_cli.cli`), by `fcnn --help` and by tab completion alike, as pip's
`commands_dict` is. Modules are imported by name on first use, so `fcnn --help` imports none.

A plain command's module has `main(argv) -> int` and `build_parser()`; a Hydra app's module has
`hydra_task`, run over the config `hydra_config` names (fcnn_cli.hydra_app.app).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Command:
    module: str
    #: how it is called, after `fcnn `
    usage: str
    #: what `fcnn --help` says of it (one or two lines)
    summary: str
    #: the Hydra config it composes; None for a plain (argparse) command
    hydra_config: str | None = None

    @property
    def is_hydra_app(self) -> bool:
        return self.hydra_config is not None

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


COMMANDS: dict[str, Command] = {
    "train": Command("fcnn_cli.commands.train", "train [overrides]",
                     "train one model (Hydra app: --help, --cfg job, -m for sweeps)", "config"),
    "bench": Command("fcnn_cli.commands.bench.command", "bench [overrides]",
                     "time the lab's timing job on every backend against this machine's floor",
                     "bench"),
    "data": Command("fcnn_cli.commands.data", "data fetch|info",
                    "fetch MNIST into the data cache / show what is cached and verified"),
    "report": Command("fcnn_cli.commands.report", "report [DIR ...]",
                      "tabulate runs and sweeps (--sort COLUMN); writes report.csv/.md/.png"),
    "evaluate": Command("fcnn_cli.commands.evaluate", "evaluate RUN_DIR",
                        "re-score a trained model (--split test|train|val): per-class scores,\n"
                        "confusion matrix, its worst mistakes; writes eval.json and figures"),
    "predict": Command("fcnn_cli.commands.predict", "predict RUN_DIR INPUT",
                       "label new inputs (IDX file, .npy array, folder of PNGs) as CSV"),
    "problems": Command("fcnn_cli.commands.problems", "problems --autoencoder DIR --bottleneck DIR",
                        "the answer table of Problems 5.2 and 5.3 from their two searches"),
    "completion": Command("fcnn_cli.commands.completion", "completion SHELL",
                          "print the tab-completion script for bash, zsh or fish\n"
                          "(bash: source <(fcnn completion bash))"),
}


def hydra_apps() -> list[str]:
    return [name for name, command in COMMANDS.items() if command.is_hydra_app]


def plain_commands() -> list[str]:
    return [name for name, command in COMMANDS.items() if not command.is_hydra_app]


def run(name: str, args: list[str]) -> int:
    """Run subcommand `name` with its arguments; its exit status (a Hydra app exits itself)."""
    command = COMMANDS[name]
    if command.is_hydra_app and {"-h", "--help"} & set(args):
        # Written from the settings schema, without starting Hydra: every key with its meaning.
        from fcnn_cli.config.reference import help_text

        print(help_text(name), end="")
        return 0
    if command.is_hydra_app:
        from fcnn_cli.hydra_app import app

        app.run(name, command.load().hydra_task, command.hydra_config, args)
        return 0
    return command.load().main(args)
