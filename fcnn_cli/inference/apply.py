"""A saved model applied to new inputs, in numpy: the one way `fcnn evaluate`, `fcnn predict`
and `FCNNClassifier` run a trained net, whatever backend trained it.

The formulas are the training's own: `model.logits` for the net, the task's output function,
loss and prediction (`fcnn_cli.core.tasks`), so a model re-scored here gives the numbers its run
reported. Rows are pushed through in chunks, so any number of inputs fits in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli.core import model, tasks

if TYPE_CHECKING:
    from fcnn_cli.runs.model_file import SavedModel

# Rows per forward pass: large enough for efficient matrix products, small enough to bound memory.
CHUNK = 8192


def task_of(saved: SavedModel) -> tasks.Task:
    """The task object of the saved model (its loss, output function and prediction)."""
    return tasks.TASKS[saved.task](saved.n_features, saved.n_outputs, tuple(saved.struct))


def features(saved: SavedModel, raw: np.ndarray) -> np.ndarray:
    """Raw inputs (rows, or images) as the net's features: flattened, in the model's dtype,
    divided by its input divisor (MNIST pixels by 255; FCNNClassifier's inputs by 1)."""
    x = np.asarray(raw)
    x = np.array(x.reshape(x.shape[0], -1), dtype=saved.dtype)
    if saved.input_divisor not in (None, 1.0):
        x /= saved.dtype.type(saved.input_divisor)
    return x


def logits(saved: SavedModel, x: np.ndarray) -> np.ndarray:
    """The output layer's logits for the feature rows `x`, in the model's dtype."""
    x = np.asarray(x, dtype=saved.dtype)
    if x.shape[1:] != (saved.n_features,):
        raise ValueError(f"the model takes {saved.n_features} features per input; got rows of "
                         f"shape {x.shape[1:]}")
    out = np.empty((x.shape[0], saved.n_outputs), dtype=saved.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model scores as it is
        for start in range(0, x.shape[0], CHUNK):
            out[start:start + CHUNK] = model.logits(np, saved.params, x[start:start + CHUNK],
                                                       saved.activation)
    return out


def has_classes(saved: SavedModel) -> bool:
    """Whether the model predicts classes (classify, logreg), not reconstructions."""
    return task_of(saved).metric is not None


def probabilities(saved: SavedModel, a: np.ndarray) -> np.ndarray:
    """Each row's probability of every class (rows x n_classes) from the logits `a`."""
    if not has_classes(saved):
        raise ValueError(f"a task={saved.task} model has no classes to give probabilities of")
    return task_of(saved).probabilities(np, a)


def class_indices(saved: SavedModel, a: np.ndarray) -> np.ndarray:
    """The predicted class of each row, as an index into `saved.classes`."""
    if not has_classes(saved):
        raise ValueError(f"a task={saved.task} model has no classes to predict")
    return np.asarray(task_of(saved).predict(np, a), dtype=np.int64)
