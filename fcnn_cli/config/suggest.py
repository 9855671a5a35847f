"""'Did you mean ...?' for a key fcnn does not read: by close spelling among the schema's keys and
config groups, and by a small table of the names other tools give the same settings (a user of
scikit-learn types `learning_rate_init=`, of Keras `epochs=`).

Keys a user adds on purpose, for bookkeeping, go under one documented namespace, `tags`
(`+tags.owner=ana`): they are kept in the run's config and read by nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from fcnn_cli.config.schema import KEYS, TRAIN, keys_of
from fcnn_cli.errors import UsageError

#: The namespace for keys fcnn does not read: `+tags.NAME=VALUE`.
TAGS = "tags"

#: Names other tools (scikit-learn, Keras, PyTorch, the lab's notebook) use -> fcnn's key or group.
FOREIGN: dict[str, str] = {
    "learning_rate": "lr", "learning_rate_init": "lr", "eta": "lr", "step_size": "lr",
    "rate": "lr",
    "hidden_layer_sizes": "struct", "hidden": "struct", "hidden_layers": "struct",
    "layers": "struct", "layer_sizes": "struct", "sizes": "struct", "architecture": "struct",
    "max_iter": "max_epochs", "epochs": "max_epochs", "n_epochs": "max_epochs",
    "num_epochs": "max_epochs", "n_iter": "max_epochs", "iterations": "max_epochs",
    "random_state": "seed", "random_seed": "seed", "rng": "seed",
    "batch": "batch_size", "bs": "batch_size", "minibatch_size": "batch_size",
    "mini_batch_size": "batch_size",
    "validation_fraction": "val_fraction", "validation_split": "val_fraction",
    "val_split": "val_fraction",
    "momentum": "optimizer.momentum", "nesterovs_momentum": "optimizer.nesterov",
    "nesterov": "optimizer.nesterov", "beta_1": "optimizer.beta1", "beta_2": "optimizer.beta2",
    "beta1": "optimizer.beta1", "beta2": "optimizer.beta2", "epsilon": "optimizer.epsilon",
    "eps": "optimizer.epsilon", "alpha": "optimizer.alpha", "weight_decay": "optimizer.alpha",
    "l2": "optimizer.alpha",
    "solver": "optimizer", "optim": "optimizer",
    "decay": "annealing", "lr_decay": "annealing", "gamma": "annealing",
    "init_scale": "init_range", "activation_function": "activation", "act": "activation",
    "verbose": "progress", "precision": "dtype",
    "num_threads": "threads", "n_threads": "threads", "nthreads": "threads",
    "blas_threads": "threads", "omp_num_threads": "threads", "cpus": "threads",
    "data": "dataset", "model": "backend", "engine": "backend", "framework": "backend",
    "classes": "dataset.classes", "n_trials": "hparams_search",
    # regularisation (issue 21's names, Keras', PyTorch's, scikit-learn's early stopping)
    "dropout": "dropout.hidden", "dropout_rate": "dropout.hidden",
    "input_dropout": "dropout.input", "max_norm_value": "max_norm", "maxnorm": "max_norm",
    "early_stopping": "early_stopping.patience", "n_iter_no_change": "early_stopping.patience",
    "patience": "early_stopping.patience", "tol": "early_stopping.min_delta",
    "min_delta": "early_stopping.min_delta", "restore_best_weights": "early_stopping.restore_best",
    "lr_schedule": "schedule", "scheduler": "schedule", "lr_scheduler": "schedule",
    "warmup": "schedule.warmup_epochs", "warmup_epochs": "schedule.warmup_epochs",
    "min_lr": "schedule.min_lr", "eta_min": "schedule.min_lr", "step_size_epochs": "schedule.every",
    "augment": "augment.shift", "shift": "augment.shift", "augmentation": "augment.shift",
    # distortions (Keras' ImageDataGenerator, torchvision's RandomAffine and ElasticTransform)
    "elastic": "augment.elastic.alpha", "elastic_alpha": "augment.elastic.alpha",
    "elastic_sigma": "augment.elastic.sigma", "distortion": "augment.elastic.alpha",
    "rotation": "augment.rotate", "rotation_range": "augment.rotate", "degrees": "augment.rotate",
    "rotate": "augment.rotate", "zoom": "augment.scale", "zoom_range": "augment.scale",
    "scaling": "augment.scale", "shear_range": "augment.shear", "shear": "augment.shear",
}


def _groups(app: str) -> list[str]:
    from fcnn_cli.config.reference import group_defaults

    return list(group_defaults(app))


def _spelled(target: str, groups: Iterable[str]) -> str:
    """How to write the suggestion: a group is chosen with group=option."""
    return f"{target}=OPTION" if target in groups else target


def suggestion(name: str, app: str = TRAIN) -> str | None:
    """The setting the user most likely meant by `name` (how to write it), or None."""
    groups = _groups(app)
    names = [key.name for key in keys_of(app) if key.name != f"{key.group}.name"] + groups
    leaf = name.rsplit(".", 1)[-1].lower()
    close = [FOREIGN[name.lower()]] if name.lower() in FOREIGN else []
    close = close or difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    close = close or ([FOREIGN[leaf]] if leaf in FOREIGN else [])
    if not close:  # `momentum` for optimizer.momentum, `layer` for probe.layer
        by_leaf = {n.rsplit(".", 1)[-1]: n for n in names if "." in n}
        leaves = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.75)
        close = [by_leaf[leaves[0]]] if leaves else []
    return _spelled(close[0], groups) if close else None


def no_such_setting(name: str, app: str = TRAIN) -> str:
    """The one-line message for a key fcnn does not read."""
    key = KEYS.get(name)
    if key is not None and key.group is not None and app in key.apps:
        # A real key that the chosen group option does not set (optimizer.momentum with
        # optimizer=adam): "did you mean" would name the key itself.
        return (f"not a setting of the {key.group} chosen; it is read with another "
                f"{key.group}=OPTION ({key.meaning})")
    hint = suggestion(name, app)
    did_you_mean = f"did you mean {hint}? " if hint else ""
    return (f"no such setting; {did_you_mean}(`fcnn {app} --help` lists every key; keys of your "
            f"own go under +{TAGS}.NAME=VALUE)")


def _leaves(node: Any, prefix: str = "") -> Iterable[str]:
    """The dotted names of the keys in `node`, but for Hydra's own and the user's tags."""
    items = node.items_ex(resolve=False) if hasattr(node, "items_ex") else node.items()
    for name, value in items:
        path = f"{prefix}.{name}" if prefix else str(name)
        if path in ("hydra", TAGS):
            continue
        if path in KEYS or not hasattr(value, "items"):
            yield path
        else:
            yield from _leaves(value, path)


def check_known(cfg: Any, app: str = TRAIN) -> None:
    """Refuse, in one line, a key in a composed config that fcnn does not read (a `+KEY=VALUE`
    that Hydra added): it would do nothing, silently. `tags.*` is the user's own."""
    known = {key.name for key in keys_of(app)}
    for path in _leaves(cfg):
        if path in known:
            continue
        if path.startswith("backend.") and path != "backend.name":
            continue  # a backend's own options (Settings.backend_options)
        raise UsageError(path, no_such_setting(path, app))
