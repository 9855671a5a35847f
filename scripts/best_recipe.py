"""Write `make best`'s recipe: the best trial of an Optuna search (conf/hparams_search/best.yaml)
as an experiment config, with its provenance, for training over seeds on the full training set.

    python scripts/best_recipe.py SEARCH_DIR [--out experiments/best.yaml] [--epochs N]
                                  [--only KEY=VALUE ...] [--set KEY=VALUE ...]

The recipe is the search's fixed settings (the trial's own config: backend, dataset, epochs,
...) overridden by Optuna's best parameters, less what only the search needs (its validation
split, the sweep). Its first lines say where it came from: the search directory, the best
trial's number and directory, its validation accuracy, the number of trials, and when.
`--epochs N` trains the recipe N epochs instead of the trial's (a search's trials are kept short
to fit its budget); the provenance says so, and a schedule over max_epochs (cosine) stretches.
`--only augment.shift=0` takes the best of the trials with that setting (the best pure fully
connected net of a search that also tried augmentation). `--set struct=[2048,2048]` trains the
recipe with that setting instead of the trial's (a search run on a smaller net than the one it
is for: `make record RECORD_SEARCH_ARGS=struct=[1024,1024] RECORD_SET=struct=[2048,2048]`); the
provenance names it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import yaml

# What the recipe keeps of a trial's config: the keys that decide how the net is trained.
KEPT = ("struct", "activation", "lr", "annealing", "max_epochs", "batch_size", "dtype",
        "init_range", "schedule", "dropout", "max_norm", "augment")
# What `--set` may change: a kept setting, or a key inside one of the kept groups
# (augment.elastic.alpha); max_epochs has --epochs, which the provenance names as such.
SETTABLE_GROUPS = ("schedule", "dropout", "augment")
GROUPS = ("backend", "dataset", "optimizer", "task", "device")


def _select(config: dict, dotted: str) -> object:
    """The value of a dotted key in a trial's config (None where it is absent)."""
    value: object = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def parse_pairs(pairs: list[str], option: str) -> dict[str, object]:
    """`--only` (or `--set`) KEY=VALUE pairs as {key: value}, values read as YAML (0 is an int,
    [2048,2048] a list)."""
    only = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option}: expected KEY=VALUE, got {pair!r}")
        only[key] = yaml.safe_load(value)
    return only


def best_trial(search: Path, only: dict[str, object] | None = None) -> tuple[Path, dict, dict]:
    """(trial directory, Optuna's result, the trial's metrics) of the best trial, among those
    whose config has every setting of `only`."""
    result = yaml.safe_load((search / "optimization_results.yaml").read_text())
    trials = []
    for metrics_file in sorted(search.glob("*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("objective_value") is None:
            continue
        if only:
            config = yaml.safe_load((metrics_file.parent / ".hydra" / "config.yaml").read_text())
            if any(_select(config, k) != v for k, v in only.items()):
                continue
        trials.append((metrics["objective_value"], -int(metrics_file.parent.name),
                       metrics_file.parent, metrics))
    if not trials:
        where = f" with {', '.join(f'{k}={v}' for k, v in only.items())}" if only else ""
        raise SystemExit(f"{search}: no completed trial{where}")
    best = max(trials, key=lambda t: (t[0], t[1]))  # the first of equal trials
    return best[2], result, best[3]


def _assign(body: dict, dotted: str, value: object) -> None:
    """Set a dotted key of the recipe (`augment.elastic.alpha`), making the nodes on its way."""
    *parents, last = dotted.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def recipe(search: Path, name: str = "best", epochs: int | None = None,
           only: dict[str, object] | None = None, overrides: dict[str, object] | None = None) -> str:
    trial, result, metrics = best_trial(search, only)
    config = yaml.safe_load((trial / ".hydra" / "config.yaml").read_text())
    body = {"defaults": [{f"override /{g}": config[g]["name"]} for g in GROUPS if g in config]}
    body.update({k: config[k] for k in KEPT if k in config})
    searched_epochs = body.get("max_epochs")
    for key, value in (overrides or {}).items():
        _assign(body, key, value)
    if epochs is not None:
        body["max_epochs"] = epochs
    optimizer = {k: v for k, v in config.get("optimizer", {}).items() if k != "name"}
    body["optimizer"] = optimizer
    n_trials = len(list(search.glob("*/metrics.json")))
    head = [
        "# @package _global_",
        f"# make {'best' if name.startswith('best') else name}'s recipe, written by "
        "scripts/best_recipe.py from an Optuna search on the",
        "# validation accuracy (val_fraction 0.1; the test set unseen). Provenance:",
        f"#   search: {search}",
        f"#   best trial: {trial.name} ({trial}) of {n_trials}, val_acc {metrics['val_acc']:.4f}"
        + (f", the best of those with {', '.join(f'{k}={v}' for k, v in only.items())}"
           if only else ""),
        f"#   Optuna best_value {result.get('best_value')}, best_params "
        f"{json.dumps(result.get('best_params', {}), sort_keys=True)}",
        f"#   trials of {searched_epochs} epochs; the recipe trains {body.get('max_epochs')}"
        + (" (--epochs)" if epochs is not None else ""),
        *([f"#   set after the search (--set): "
           f"{', '.join(f'{k}={json.dumps(v)}' for k, v in overrides.items())}"] if overrides else []),
        f"#   written {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"# Train it over seeds on the full training set: fcnn train -m experiment={name} seed=1,2,3,4,5",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(body, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("search", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, default=Path("experiments/best.yaml"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="train the recipe this many epochs (default: the trials' own)")
    parser.add_argument("--only", action="append", default=[], metavar="KEY=VALUE",
                        help="the best of the trials with this setting (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="train the recipe with this setting instead of the trial's "
                             "(repeatable), e.g. struct=[2048,2048]")
    parser.add_argument("--check", action="store_true",
                        help="check the other options and stop, writing nothing (make record "
                             "runs it before its search, so a typo costs seconds, not the search)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs: must be an integer >= 1; got {args.epochs}")
    try:
        only = parse_pairs(args.only, "--only")
        overrides = parse_pairs(args.overrides, "--set")
    except ValueError as err:
        parser.error(str(err))
    for key in overrides:
        head, _, rest = key.partition(".")
        if key == "max_epochs" or head not in KEPT or (rest and head not in SETTABLE_GROUPS):
            parser.error(f"--set {key}: not a setting a recipe keeps; allowed: "
                         f"{', '.join(k for k in KEPT if k != 'max_epochs')} and the keys of "
                         f"{', '.join(SETTABLE_GROUPS)} (augment.elastic.alpha); --epochs for max_epochs")
    if args.check:
        return 0
    if args.search is None or not (args.search / "optimization_results.yaml").is_file():
        parser.error(f"{args.search or 'SEARCH_DIR'}: no optimization_results.yaml: not the "
                     "directory of a finished Optuna search (make best's BEST_DIR/search)")
    text = recipe(args.search, args.out.stem, args.epochs, only, overrides)
    args.out.write_text(text)
    print(f"recipe: {args.out}\n{text}", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
