"""What a tired user types, answered before Hydra reads it: one line each, naming the fix, and
never a hint that leads back to the same error.

- `struct=(500,250)`: a list is written in square brackets (Hydra's grammar error named ANTLR
  tokens);
- `~lr`, `~backend`: a setting cannot be deleted, only set (it trained on the defaults, silently);
- `epochs=5 learning_rate=0.1`: every key fcnn does not read, at once (Hydra names the first);
- `lr=0,1` in a single run: the hint depends on the key's type (a number: `lr=0.1`? or -m to
  sweep; a list such as `struct` is never a string), given where Hydra finds it ambiguous
  (`one_value_hint`);
- `--epochs 5`: settings are KEY=VALUE (`max_epochs=5`), not flags.
"""

from __future__ import annotations

import re
from typing import Any

from fcnn_cli.config import schema
from fcnn_cli.config.suggest import FOREIGN, no_such_setting, suggestion
from fcnn_cli.errors import UsageError

_PARENTHESES = re.compile(r"^(?P<prefix>\+{0,2})(?P<key>[\w./@-]+)=\((?P<items>.*)\)$")
#: Value kinds that are lists: `KEY=a,b` meant one list, never a string.
LISTS = ("sizes", "classes", "names")


def check(app: str, args: list[str]) -> None:
    """Refuse, in one line, what Hydra would misread or report badly in `args` (overrides and
    flags of `fcnn APP`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from fcnn_cli.hydra_app.private_hydra import args_parser

    # The overrides as Hydra's own parser reads them (a flag's value is none); shell completion
    # (`-sc query=bash`) takes words of its own.
    parsed_args = args_parser().parse_args(args)
    if parsed_args.shell_completion:
        return
    overrides = list(parsed_args.overrides)
    for text in overrides:
        found = _PARENTHESES.match(text)
        if found:
            key, items = found["key"], found["items"].replace(" ", "")
            raise UsageError(key, f"a list is written in square brackets: {key}=[{items}]")
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - Hydra's grammar errors are reported by Hydra's run
        return
    unknown = []
    for override in parsed:
        key = override.key_or_group
        if override.is_delete():
            _refuse_deletion(app, key)
        elif _unknown(app, override):
            unknown.append(key)
    if len(unknown) == 1:
        raise UsageError(unknown[0], no_such_setting(unknown[0], app))
    if unknown:
        hints = [f"{name} ({_hint(name, app)})" for name in unknown]
        raise UsageError(", ".join(unknown), f"no such settings: {'; '.join(hints)} (`fcnn {app} "
                                             "--help` lists every key)")


def unknown_flag(app: str, args: list[str], known: set[str]) -> str | None:
    """The line for a `--NAME VALUE` that is a setting typed as a flag (`--epochs 5`), if any."""
    for i, arg in enumerate(args):
        if not arg.startswith("--") or arg.split("=", 1)[0] in known:
            continue
        name, _, value = arg[2:].partition("=")
        if not value and i + 1 < len(args) and not args[i + 1].startswith("-"):
            value = args[i + 1]
        name = name.replace("-", "_")
        key = name if name in schema.KEYS else FOREIGN.get(name) or suggestion(name, app)
        if key:
            return (f"--{arg[2:].split('=', 1)[0]}: fcnn takes settings as KEY=VALUE, not as flags: "
                    f"write {key}={value or 'VALUE'}")
    return None


def _keys(app: str) -> set[str]:
    return {key.name for key in schema.keys_of(app)}


def _groups() -> set[str]:
    from fcnn_cli.paths import conf_dir

    return {p.name for p in conf_dir().iterdir() if p.is_dir()} | {"hydra", "experiment"}


def _unknown(app: str, override: Any) -> bool:
    """A key `fcnn APP` does not read, given without `+` (Hydra refuses those with one line of
    its own; `+KEY` is checked once composed, fcnn_cli.config.suggest.check_known)."""
    key = override.key_or_group
    if override.package or (override.input_line or "").startswith("+"):
        return False
    root = key.split(".")[0].split("/")[0]
    if key in _keys(app) or root in _groups() or root == "tags":
        return False
    return not any(name.startswith(f"{key}.") for name in _keys(app))


def _refuse_deletion(app: str, key: str) -> None:
    """`~KEY` for a setting (or a group of settings): it would train on the defaults, silently."""
    root = key.split(".")[0].split("/")[0]
    settings = _keys(app)
    if key in settings or any(name.startswith(f"{key}.") for name in settings) or root in (
            "backend", "dataset", "device", "optimizer", "task", "schedule"):
        raise UsageError(key, f"cannot be deleted; set {key}=VALUE (`fcnn {app} --help` says what "
                              "it takes)")


def _hint(name: str, app: str) -> str:
    hint = suggestion(name, app)
    return f"did you mean {hint}?" if hint else "no such setting"


def one_value_hint(key: str, text: str) -> str:
    """`KEY=a,b` in a single run (Hydra: "ambiguous value"): what the user most likely meant, by
    the key's type. (Only Hydra knows the mode: a search preset makes a sweep without -m.)"""
    values = text.split(",")
    sweep = f"to sweep {key} over {' and '.join(values) if len(values) == 2 else text}, add -m"
    spec = schema.KEYS.get(key) or schema.KEYS.get(f"{key}.name")
    if spec is None:  # a group of the config (experiment, arch, ...)
        return f"takes one option, got {text!r}; {sweep}"
    if spec.kind in LISTS:
        return (f"write one list in square brackets: {key}=[{text}]; or, {sweep} "
                f"(each value a list: {key}=[500],[250])")
    if spec.kind == "number" and len(values) == 2 and all(v.strip().isdigit() for v in values):
        return f"takes one number; did you mean {key}={values[0]}.{values[1]}? Or, {sweep}"
    if spec.kind in ("number", "integer"):
        return f"takes one number, got {text!r}; {sweep}"
    if spec.kind in ("choice", "boolean"):
        choices = ", ".join(spec.choices) if spec.choices else "true or false"
        return f"takes one of {choices}, got {text!r}; {sweep}"
    return (f"{text!r} is ambiguous: write {key}=[{text}] for a list, {key}=\"'{text}'\" for a "
            f"string (quoted for the shell too), or add -m to sweep over the values")
