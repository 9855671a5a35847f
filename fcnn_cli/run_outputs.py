"""The formats of what a run leaves in its directory (metrics, curves, plot, model, an
autoencoder's reconstructions, a probe's curves); the file names and the directory itself belong
to `fcnn_cli.runs`. Every file is written atomically."""

from __future__ import annotations

import csv
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fcnn_cli import atomic, runs

# A classifier's curves between lr and seconds; a task passes its own (fcnn_cli.tasks).
DEFAULT_CURVES = ("train_loss", "train_acc", "test_acc", "val_acc")


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
    runs.write_json(path, data)


def curve_columns(rows: Sequence[dict[str, Any]], curves: Sequence[str] = DEFAULT_CURVES) -> list[str]:
    """curves.csv's columns: epoch, lr, the task's `curves`, seconds; val_* only with a val set."""
    has_val = bool(rows) and (rows[0].get("val_acc") is not None or rows[0].get("val_loss") is not None)
    return ["epoch", "lr", *(c for c in curves if has_val or not c.startswith("val_")), "seconds"]


def write_curves(path: Path, rows: Sequence[dict[str, Any]],
                 curves: Sequence[str] = DEFAULT_CURVES) -> None:
    """curves.csv: one row per epoch; a val_* column appears when there is a validation set."""
    columns = curve_columns(rows, curves)
    with atomic.atomic_open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_curves(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: Path, rows: Sequence[dict[str, Any]], title: str,
                curves: Sequence[str] = DEFAULT_CURVES, loss_label: str = "cross-entropy") -> None:
    """curves.png: the lab's figure (see `curves_figure`)."""
    save_figure(curves_figure(rows, title, curves, loss_label), path)


def curves_figure(rows: Sequence[dict[str, Any]], title: str,
                  curves: Sequence[str] = DEFAULT_CURVES, loss_label: str = "cross-entropy") -> Any:
    """The lab's figure: curve C (training loss) above; curves A and B (accuracies) below;
    whole epochs on the shared x axis.

    A task without accuracy (`curves` without *_acc) gets one panel: its training, test and
    validation losses.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _figure()
    shown = [c for c in curve_columns(rows, curves) if c not in ("epoch", "lr", "seconds")]
    losses = [c for c in shown if c.endswith("_loss")]
    accuracies = [c for c in shown if c.endswith("_acc")]
    epochs = [r["epoch"] for r in rows]
    if accuracies:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    else:
        fig, top = plt.subplots(1, 1, figsize=(7, 4))
        bottom = None
    loss_names = {"train_loss": "C: training loss", "test_loss": "B: test loss",
                  "val_loss": "validation loss"}
    for column, style, color in zip(losses, ("o-", "s-", "^-"), ("tab:red", "tab:blue", "tab:green"),
                                    strict=False):
        top.plot(epochs, [r[column] for r in rows], style, color=color, label=loss_names[column])
    top.set_ylabel(loss_label)
    top.set_yscale("log")
    top.legend()
    top.grid(alpha=0.3)
    if bottom is not None:
        acc_names = {"train_acc": "A: training accuracy", "test_acc": "B: test accuracy",
                     "val_acc": "validation accuracy"}
        for column, style in zip(accuracies, ("o-", "s-", "^-"), strict=False):
            bottom.plot(epochs, [100 * r[column] for r in rows], style, label=acc_names[column])
        bottom.set_ylabel("accuracy (%)")
        bottom.legend()
        bottom.grid(alpha=0.3)
    axis = bottom or top
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # shared with the top axis
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Any, path: Path) -> None:
    """Write `fig` as a PNG atomically and release it."""
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    _figure().close(fig)


def plot_reconstructions(path: Path, images: np.ndarray, reconstructions: np.ndarray) -> bool:
    """Test images (top row) above their reconstructions (bottom row); False, and no file, when
    the inputs are not square images."""
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        return False
    plt = _figure()
    n = images.shape[0]
    fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.6), squeeze=False)
    for i in range(n):
        for row, source in enumerate((images, reconstructions)):
            ax = axes[row][i]
            ax.imshow(np.clip(source[i], 0, 1).reshape(side, side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel("test", fontsize=9)
    axes[1][0].set_ylabel("decoded", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def save_model(path: Path, params: Sequence[tuple[np.ndarray, np.ndarray]], activation: str,
               classes: int, task: str = "classify") -> None:
    """model.npz: W0, b0, W1, b1, ... plus struct, activation and task; no pickled objects."""
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(params):
        arrays[f"W{i}"], arrays[f"b{i}"] = np.asarray(w), np.asarray(b)
    arrays["struct"] = np.array([w.shape[1] for w, _ in params[:-1]], dtype=np.int64)
    arrays["activation"] = np.array(activation)
    arrays["n_classes"] = np.array(classes)
    arrays["task"] = np.array(task)
    with atomic.atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


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
