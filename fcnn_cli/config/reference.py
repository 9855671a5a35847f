"""The settings schema, written out for people: `fcnn train --help`, `fcnn bench --help` and the
reference page docs/reference/config.md are all rendered here from `schema.KEYS`, so what they
say cannot drift from what validation checks.

    python -m fcnn_cli.config.reference --write docs/reference/config.md    (`make docs`)

The config groups and their default options are read from the primary config's defaults list
(conf/config.yaml, conf/bench.yaml) and the option files beside it, as Hydra reads them.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from fcnn_cli.config.schema import BENCH, TRAIN, Key, keys_of
from fcnn_cli.paths import conf_dir

#: The primary config of each app, and what its --help says first.
APPS: dict[str, tuple[str, str]] = {
    TRAIN: ("config", """\
fcnn train: train one fully connected network and write its run directory
(metrics.json, curves.csv, curves.png, model.npz).

Override a key with key=value, choose a group's option with group=option, sweep
with -m key=a,b. Examples:
  fcnn train backend=numpy struct=[500,250] lr=0.1 dataset=digits
  fcnn train experiment=ex5_2
  fcnn train -m lr=0.1,0.05 batch_size=50,100"""),
    BENCH: ("bench", """\
fcnn bench: time the lab's timing job (3 epochs of [500,250], batch 100) on each
backend (fit, predict, compile apart) and compare with this machine's floor (the
job's FLOPs at its float32 matrix-product rate). Writes bench.json and bench.md.
  fcnn bench backends=[numpy,jax] repeats=1
  fcnn bench dataset=digits repeats=1
  fcnn bench optimizer=adam"""),
}

WIDTH = 80


def _text(value: Any) -> str:
    """A value as it is written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return str(value)


def group_defaults(app: str) -> dict[str, str | None]:
    """Each config group of `app` and its default option (None: no option by default), in the
    order of the primary config's defaults list."""
    import yaml  # light, and only for --help and the reference page

    config, _ = APPS[app]
    defaults = yaml.safe_load((conf_dir() / f"{config}.yaml").read_text())["defaults"]
    groups: dict[str, str | None] = {}
    for entry in defaults:
        if isinstance(entry, dict):
            ((group, option),) = entry.items()
            if not group.startswith(("override ", "hydra/")):
                groups[group] = option
    return groups


def group_options(group: str) -> list[str]:
    """The options of a config group: its YAML files, as Hydra lists them."""
    return sorted(path.stem for path in (conf_dir() / group).glob("*.yaml"))


def _group_meaning(group: str) -> str:
    key = next((k for k in keys_of(TRAIN) + keys_of(BENCH) if k.name == f"{group}.name"), None)
    return key.meaning if key else {
        "arch": "a named architecture (sets struct and activation)",
        "experiment": "a recorded experiment of the lab (sets any keys)",
        "hparams_search": "an Optuna search preset (runs a sweep)",
    }.get(group, "")


def _keys(app: str) -> list[Key]:
    """The keys a user sets as key=value (a group's `name` is chosen as group=option)."""
    return [key for key in keys_of(app) if not (key.group and key.name == f"{key.group}.name")]


def help_text(app: str) -> str:
    """`fcnn APP --help`: the groups with their options, then every key with its default, what
    is allowed and what it means."""
    _, header = APPS[app]
    lines = [header, "", "Config groups (group=option; * the default):"]
    for group, default in group_defaults(app).items():
        options = ", ".join(f"{o}*" if o == default else o for o in group_options(group))
        lines += textwrap.wrap(options, WIDTH - 1, initial_indent=f"  {group:<15} ",
                               subsequent_indent=" " * 18)
        lines += _wrapped(_group_meaning(group), 18)
    lines += ["", "Keys (key=value; the default after =):"]
    for key in _keys(app):
        lines.append(f"  {key.name}={_text(key.default_in(app))}    ({key.allowed()})")
        lines += _wrapped(key.meaning, 6)
    lines += ["", f"The values a command line composes: fcnn {app} --cfg job [overrides]",
              f"Hydra's own flags (-m, --multirun, -cn, ...): fcnn {app} --hydra-help",
              "Every key, on one page: docs/reference/config.md"]
    return "\n".join(lines) + "\n"


def _wrapped(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, WIDTH - 1, initial_indent=" " * indent,
                         subsequent_indent=" " * indent) if text else []


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/reference/config.md."""
    out = ["# Config keys", "",
           "<!-- Generated from fcnn_cli/config/schema.py by `make docs` "
           "(python -m fcnn_cli.config.reference --write docs/reference/config.md); "
           "do not edit by hand: a test fails when this page is stale. -->", "",
           "Every key of `fcnn train` and `fcnn bench`: its default, what is allowed and what "
           "it means. Set a key with `key=value`, choose a group's option with `group=option` "
           "(a group's options are the YAML files of `conf/GROUP/`). A value outside what is "
           "allowed stops the command before it starts, in one line naming the key, with exit "
           "status 2.", ""]
    for app in (TRAIN, BENCH):
        out += [f"## fcnn {app}", "", "### Config groups", "",
                "| group | options (**default**) | meaning |", "|---|---|---|"]
        for group, default in group_defaults(app).items():
            options = ", ".join(f"**{o}**" if o == default else o for o in group_options(group))
            out.append(f"| `{group}` | {options} | {_cell(_group_meaning(group))} |")
        out += ["", "### Keys", "", "| key | default | allowed | meaning |", "|---|---|---|---|"]
        for key in _keys(app):
            out.append(f"| `{key.name}` | `{_text(key.default_in(app))}` | "
                       f"{_cell(key.allowed())} | {_cell(key.meaning)} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcnn_cli.config.reference",
                                     description="Write the config reference page.")
    parser.add_argument("--write", metavar="PATH", help="write the page here (else: stdout)")
    args = parser.parse_args(argv)
    page = markdown()
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(page)
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
