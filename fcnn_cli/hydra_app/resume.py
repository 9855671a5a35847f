"""`fcnn train resume=RUN_DIR`: the config a resumed run trains with.

A resumed run trains in its own directory, with its own saved config (`.hydra/config.yaml`). The
command line may add only what does not change the model being trained: `max_epochs` (to train
longer, also a run that completed), `progress`, `plot`, the `logger` group and its keys, and
`checkpoint.every_s`. Any other override must agree with the run's config (repeating a value is
harmless); one that does not is refused in one line, exit status 2, with nothing in the
directory touched. Which runs may resume from their checkpoint: fcnn_cli.training.resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fcnn_cli.errors import UsageError
from fcnn_cli.runs import layout

#: What a resumed run may change: top-level keys, and groups whose keys may change too (the
#: refusal names them all).
ALLOWED = ("max_epochs", "progress", "plot", "logger", "checkpoint")


def run_directory(value: Any) -> Path:
    """The directory `resume=VALUE` names, if it holds a run (UsageError otherwise)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError("resume", f"must be the directory of a run to resume, got {value!r}")
    path = Path(value)
    if not path.exists():
        raise UsageError("resume", f"{path} does not exist")
    if not path.is_dir():
        raise UsageError("resume", f"{path} is not a directory")
    if not layout.RunDir(path).config.is_file():
        raise UsageError("resume", f"{path} is not a run directory (it has no {layout.CONFIG})")
    return path


def run_config(cfg: Any, run: layout.RunDir, overrides: list[str]) -> Any:
    """The config a resumed run trains with: the run's saved one, with what the command line
    may change taken from `cfg` (the config Hydra composed for this command, from `overrides`,
    its command-line overrides). An override that conflicts with the saved config is refused."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf, open_dict

    from fcnn_cli.paths import conf_dir

    try:
        saved = OmegaConf.load(run.config)
    except Exception as err:  # noqa: BLE001 - any unreadable YAML: one line
        raise UsageError("resume", f"{run.config}: cannot be read ({' '.join(str(err).split())})"
                         ) from None
    original = set(run.read_overrides())
    conflicts = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        text = override.input_line or key
        if key == "resume":
            continue
        if key.split(".")[0] in ALLOWED:
            with open_dict(saved):
                OmegaConf.update(saved, key, OmegaConf.select(cfg, key), merge=False)
            continue
        group = (conf_dir() / key).is_dir()
        if group and OmegaConf.select(saved, key) is None:
            # A group that sets keys across the config (arch, experiment): only the run's own
            # choice can be repeated.
            if text not in original:
                conflicts.append(f"{text} is not one of the run's own overrides")
            continue
        now, before = _plain(OmegaConf.select(cfg, key)), _plain(OmegaConf.select(saved, key))
        if now != before:
            shown = before.get("name", before) if group and isinstance(before, dict) else before
            conflicts.append(f"{text} conflicts with the run's {_show(shown)}")
    if conflicts:
        raise UsageError("resume", f"{'; '.join(conflicts)} (a resumed run keeps its own config: "
                                   f"only {', '.join(ALLOWED[:-1])} and {ALLOWED[-1]} may change)")
    with open_dict(saved):
        saved.resume = str(run.path)  # the setting as the command line gave it, for the record
    return saved


def _plain(value: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _show(value: Any) -> str:
    """A config value as it is written on the command line: [500,250], 0.1, sgd."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


class MaxEpochs:
    """The loop's callback that, once the checkpoint is restored and training goes on, records a
    new max_epochs in the run's saved config: a run extended past its max_epochs says so from
    then on (a later resume without max_epochs goes on to the new end)."""

    def __init__(self, run: layout.RunDir, max_epochs: int) -> None:
        self.run, self.max_epochs = run, max_epochs

    def on_train_start(self, backend: Any, state: Any) -> None:
        from omegaconf import OmegaConf

        from fcnn_cli import atomic

        saved = OmegaConf.load(self.run.config)
        if saved.get("max_epochs") != self.max_epochs:
            saved.max_epochs = self.max_epochs
            atomic.write_text(self.run.config, OmegaConf.to_yaml(saved))

    def on_epoch_end(self, record: Any) -> None:
        pass
