"""What a run records about itself besides its results: JSON files written atomically, the
versions of the libraries a result depends on, and its config as flat dotted keys."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from fcnn_cli import atomic


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A JSON file, written atomically; numpy scalars and arrays become numbers and lists."""
    atomic.write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (read from metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("numpy", "jax", "jaxlib", "scikit-learn", "fcnn-cli"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def flat_config(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """A run's config as dotted keys: {"optimizer": {"name": "sgd"}} -> {"optimizer.name": "sgd"}."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def metrics(s: Any, *, task: str, device: str, data: Any, history: Any, seconds: dict[str, float],
            resumed_from: int | None, machine: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run's metrics.json (before its probe and objective): its settings, how it ended, the
    kept epoch's scores (the best epoch's when early stopping restored its weights), its data's
    sizes, its times and the versions used. `s` are its Settings, `history` the loop's History."""
    last = history.kept
    return {
        "backend": s.backend, "device": device, "task": task, "dataset": s.dataset,
        "classes": None if s.classes is None else list(s.classes), "struct": list(s.struct),
        "activation": s.activation, "optimizer": s.optimizer.name, "lr": s.lr,
        "annealing": s.annealing, "batch_size": s.batch_size, "max_epochs": s.max_epochs,
        "dtype": s.dtype, "seed": s.seed,
        "status": history.status, "epochs_completed": len(history.records),
        **{key: getattr(last, key) for key in SCORES},
        "n_train": data.n_train, "n_val": 0 if data.x_val is None else int(data.x_val.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        **seconds,
        "resumed_from_epoch": resumed_from,
        # with early stopping: the best epoch, whether and why training stopped early
        "early_stopping": history.stop,
        **(machine or {}),
        "versions": versions(),
    }


#: The kept epoch's scores, as metrics.json names them (the loop's EpochRecord fields).
SCORES = ("train_loss", "train_acc", "test_acc", "val_acc", "test_loss", "val_loss")

