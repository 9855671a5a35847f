"""What a run leaves in its directory: metrics.json, curves.csv, curves.png and model.npz."""

from __future__ import annotations

import csv
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CURVE_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_acc", "seconds")


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


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    tmp.replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | np.ndarray):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_curves(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """curves.csv: one row per epoch; a val_acc column appears when there is a validation set."""
    columns = list(CURVE_COLUMNS)
    if rows and rows[0].get("val_acc") is not None:
        columns.insert(columns.index("test_acc") + 1, "val_acc")
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_curves(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def plot_curves(path: Path, rows: Sequence[dict[str, Any]], title: str) -> None:
    """The lab's figure: curve C (training loss) above; curves A and B (accuracies) below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(epochs, [r["train_loss"] for r in rows], "o-", color="tab:red", label="C: training loss")
    top.set_ylabel("cross-entropy")
    top.set_yscale("log")
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(epochs, [100 * r["train_acc"] for r in rows], "o-", label="A: training accuracy")
    bottom.plot(epochs, [100 * r["test_acc"] for r in rows], "s-", label="B: test accuracy")
    if rows and rows[0].get("val_acc") is not None:
        bottom.plot(epochs, [100 * r["val_acc"] for r in rows], "^-", label="validation accuracy")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("accuracy (%)")
    bottom.legend()
    bottom.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_model(path: Path, params: Sequence[tuple[np.ndarray, np.ndarray]], activation: str,
               classes: int) -> None:
    """model.npz: W0, b0, W1, b1, ... plus struct and activation; no pickled objects."""
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(params):
        arrays[f"W{i}"], arrays[f"b{i}"] = np.asarray(w), np.asarray(b)
    arrays["struct"] = np.array([w.shape[1] for w, _ in params[:-1]], dtype=np.int64)
    arrays["activation"] = np.array(activation)
    arrays["n_classes"] = np.array(classes)
    np.savez(path, **arrays)


def load_model(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(params, activation) from a model.npz written by any backend."""
    with np.load(path, allow_pickle=False) as z:
        n_layers = sum(1 for k in z.files if k.startswith("W"))
        params = [(z[f"W{i}"], z[f"b{i}"]) for i in range(n_layers)]
        return params, str(z["activation"])


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
