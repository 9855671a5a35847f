"""The figures a run and an evaluation write: the lab's curves, an autoencoder's reconstructions,
a confusion matrix and a grid of images. matplotlib is imported only when one is drawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fcnn_cli import atomic
from fcnn_cli.runs.curves import DEFAULT_CURVES, curve_columns


def _new_figure(**kwargs: Any) -> Any:
    """A figure of its own, outside pyplot: drawing one selects no backend and registers nothing,
    so a run in a notebook leaves the kernel's inline backend as it was, and a figure returned to
    Jupyter is shown once."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def curves_title(metrics: Mapping[str, Any], experiment: str | None = None) -> str:
    """curves.png's title from a run's metrics record (metrics.json's keys): the experiment's
    name when there is one (`ex5_2`), what trained on what, its test score, and how it ended
    when it did not complete: a figure of a run that stopped early says so."""
    if metrics.get("test_acc") is not None:
        score = f"test {100 * metrics['test_acc']:.2f}%"
    elif metrics.get("test_loss") is not None:
        score = f"test loss {metrics['test_loss']:.4g}"
    else:
        score = "no test score"
    name = f"{experiment}: " if experiment else ""
    struct = list(metrics.get("struct") or [])
    title = f"{name}{metrics.get('backend')} on {metrics.get('dataset')}, struct {struct}: {score}"
    status = metrics.get("status", "completed")
    if status == "completed":
        return title
    done, planned = metrics.get("epochs_completed"), metrics.get("max_epochs")
    of = f" of {planned}" if planned else ""
    if status == "interrupted" and done is not None:
        ended = f"interrupted after {done}{of} epochs"
    elif status == "diverged" and done is not None:  # the loss went non-finite in its last epoch
        ended = f"diverged in epoch {done}{of}"
    else:
        ended = str(status)
    return f"{title}\n({ended})"


def plot_curves(path: Path, rows: Sequence[dict[str, Any]], title: str,
                curves: Sequence[str] = DEFAULT_CURVES, loss_label: str = "cross-entropy") -> None:
    """curves.png: the lab's figure (see `curves_figure`)."""
    save_figure(curves_figure(rows, title, curves, loss_label), path)


#: Up to this many epochs, each epoch is a marker on the curves; beyond, plain lines.
MARKED_EPOCHS = 40


def curves_figure(rows: Sequence[dict[str, Any]], title: str,
                  curves: Sequence[str] = DEFAULT_CURVES, loss_label: str = "cross-entropy") -> Any:
    """The lab's figure: curve C (training loss) above; curves A and B (accuracies) below;
    whole epochs on the shared x axis.

    A task without accuracy (`curves` without *_acc) gets one panel: its training, test and
    validation losses.
    """
    from matplotlib.ticker import MaxNLocator

    shown = [c for c in curve_columns(rows, curves) if c not in ("epoch", "lr", "seconds")]
    losses = [c for c in shown if c.endswith("_loss")]
    accuracies = [c for c in shown if c.endswith("_acc")]
    epochs = [r["epoch"] for r in rows]
    if accuracies:
        fig = _new_figure(figsize=(7, 6))
        top, bottom = fig.subplots(2, 1, sharex=True)
    else:
        fig = _new_figure(figsize=(7, 4))
        top = fig.subplots(1, 1)
        bottom = None
    # A marker per epoch helps to read a few epochs; hundreds of them turn a curve into a band.
    styles = ("o-", "s-", "^-") if len(epochs) <= MARKED_EPOCHS else ("-", "-", "-")
    loss_names = {"train_loss": "C: training loss", "test_loss": "B: test loss",
                  "val_loss": "validation loss"}
    for column, style, color in zip(losses, styles, ("tab:red", "tab:blue", "tab:green"),
                                    strict=False):
        top.plot(epochs, [r[column] for r in rows], style, color=color, label=loss_names[column])
    top.set_ylabel(loss_label)
    top.set_yscale("log")
    top.legend()
    top.grid(alpha=0.3)
    if bottom is not None:
        acc_names = {"train_acc": "A: training accuracy", "test_acc": "B: test accuracy",
                     "val_acc": "validation accuracy"}
        for column, style in zip(accuracies, styles, strict=False):
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
    """Write `fig` as a PNG atomically."""
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)


def plot_reconstructions(path: Path, images: np.ndarray, reconstructions: np.ndarray,
                         top_label: str = "test") -> bool:
    """Test images (top row) above their reconstructions (bottom row); False, and no file, when
    the inputs are not square images. `top_label` names the top row."""
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        return False
    n = images.shape[0]
    fig = _new_figure(figsize=(1.1 * n, 2.6))
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        for row, source in enumerate((images, reconstructions)):
            ax = axes[row][i]
            ax.imshow(np.clip(source[i], 0, 1).reshape(side, side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel(top_label, fontsize=9)
    axes[1][0].set_ylabel("decoded", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def plot_confusion(path: Path, confusion: np.ndarray, labels: Sequence[Any], title: str) -> None:
    """The confusion matrix (rows: true class, columns: predicted), counts in the cells,
    drawn by scikit-learn's ConfusionMatrixDisplay."""
    from sklearn.metrics import ConfusionMatrixDisplay

    side = min(8.0, 2.5 + 0.4 * len(labels))
    fig = _new_figure(figsize=(side + 0.6, side))
    ax = fig.subplots()
    display = ConfusionMatrixDisplay(confusion, display_labels=[str(label) for label in labels])
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_image_grid(path: Path, images: np.ndarray, image_shape: Sequence[int],
                    captions: Sequence[str], title: str, columns: int = 8) -> bool:
    """Images (rows of features in [0, 1]) in a grid, each with its caption; False, and no
    file, when there are none or they are not images."""
    if len(images) == 0 or len(image_shape) != 2:
        return False
    rows = -(-len(images) // columns)
    columns = min(columns, len(images))
    fig = _new_figure(figsize=(1.25 * columns, 1.45 * rows + 0.5))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(np.clip(image, 0, 1).reshape(image_shape), cmap="gray", vmin=0, vmax=1)
        ax.set_title(caption, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def write_reconstructions(run_dir: Path, predict: Callable[[np.ndarray], np.ndarray],
                          x_test: np.ndarray) -> str | None:
    """reconstructions.png: the first test images beside the net's reconstructions of them."""
    from fcnn_cli.runs.layout import RECONSTRUCTIONS

    shown = x_test[:12]
    return RECONSTRUCTIONS if plot_reconstructions(run_dir / RECONSTRUCTIONS, shown,
                                                   predict(shown)) else None


# A task's extra figures (Task.figures) by name: (run_dir, predict, test inputs) -> file written.
TASK_FIGURES: dict[str, Callable[[Path, Callable[[np.ndarray], np.ndarray], np.ndarray],
                                 str | None]] = {"reconstructions": write_reconstructions}


def write_task_figures(run_dir: Path, names: Sequence[str],
                       predict: Callable[[np.ndarray], np.ndarray], x_test: np.ndarray) -> list[str]:
    """The figures `names` (a task's `figures`); the names of the files written."""
    written = [TASK_FIGURES[name](run_dir, predict, x_test) for name in names]
    return [name for name in written if name is not None]
