"""What a saved model scores on labelled inputs, for `fcnn evaluate`: a classifier's accuracy,
loss, per-class precision, recall and F1 (scikit-learn's), confusion matrix and most confidently
wrong inputs; an autoencoder's reconstruction error, per class too, and worst reconstructions.

The loss is the task's own (`fcnn_cli.core.tasks`), the forward pass `fcnn_cli.inference.apply`'s: the
numbers a run reported for a split are the numbers scored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli.inference import apply

if TYPE_CHECKING:
    from fcnn_cli.runs.model_file import SavedModel

# The most confidently wrong inputs kept (and drawn), and the worst reconstructions.
MISTAKES_SHOWN = 24
RECONSTRUCTIONS_SHOWN = 12


@dataclass
class Evaluation:
    """What evaluating one split gives: eval.json's content and the arrays its figures need."""

    result: dict[str, Any]
    confusion: np.ndarray | None = None
    shown: np.ndarray | None = None  # row indices for the figure: mistakes or worst reconstructions
    captions: list[str] = field(default_factory=list)
    reconstructions: np.ndarray | None = None


def _labels(saved: SavedModel) -> list[Any]:
    return saved.classes.tolist()


def score_classifier(saved: SavedModel, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Accuracy, loss, per-class precision/recall/F1, confusion matrix and the most confidently
    wrong rows of the feature rows `x` with class indices `y`."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    a = apply.logits(saved, x)
    loss_sum, correct = apply.task_of(saved).score(np, a, x, y)
    proba = apply.probabilities(saved, a)
    predicted = apply.class_indices(saved, a)
    indices = np.arange(saved.n_classes)
    labels = _labels(saved)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=indices, zero_division=0)
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y, predicted, labels=indices, average=average,
                                                     zero_division=0)
        averages[f"{average}_avg"] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    confusion = confusion_matrix(y, predicted, labels=indices)
    wrong = np.flatnonzero(predicted != y)
    confidence = proba[wrong, predicted[wrong]]
    mistakes = wrong[np.argsort(-confidence, kind="stable")]
    n = int(x.shape[0])
    result = {
        "n": n,
        "accuracy": int(correct) / n,
        "loss": float(loss_sum) / n,
        "errors": int(wrong.size),
        "per_class": [
            {"class": labels[k], "precision": float(precision[k]), "recall": float(recall[k]),
             "f1": float(f1[k]), "support": int(support[k])}
            for k in indices
        ],
        **averages,
        "confusion_matrix": confusion.tolist(),
        "most_confident_mistakes": [
            {"index": int(i), "true": labels[y[i]], "predicted": labels[predicted[i]],
             "probability": float(proba[i, predicted[i]])}
            for i in mistakes[:MISTAKES_SHOWN]
        ],
    }
    shown = mistakes[:MISTAKES_SHOWN]
    captions = [f"true {labels[y[i]]}\npred {labels[predicted[i]]} {100 * proba[i, predicted[i]]:.0f}%"
                for i in shown]
    return Evaluation(result, confusion=confusion, shown=shown, captions=captions)


def score_autoencoder(saved: SavedModel, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Reconstruction error of the feature rows `x` (the training's loss, half the squared error
    summed over the features, and the mean squared error per feature), per class of `y`, and the
    worst reconstructed rows."""
    import numpy as np


    a = apply.logits(saved, x)
    loss_sum, _ = apply.task_of(saved).score(np, a, x, y)
    per_row = 0.5 * np.sum((a.astype(np.float64) - x) ** 2, axis=1)
    n = int(x.shape[0])
    labels = _labels(saved)
    per_class = []
    for k, label in enumerate(labels):
        rows = per_row[y == k]
        if rows.size:
            per_class.append({"class": label, "loss": float(rows.mean()), "support": int(rows.size)})
    worst = np.argsort(-per_row, kind="stable")[:RECONSTRUCTIONS_SHOWN]
    result = {
        "n": n,
        "loss": float(loss_sum) / n,
        "mse": float(2 * per_row.sum() / (n * x.shape[1])),
        "per_class": per_class,
        "worst_reconstructions": [{"index": int(i), "class": labels[y[i]], "loss": float(per_row[i])}
                                  for i in worst],
    }
    return Evaluation(result, shown=worst, reconstructions=a[worst])
