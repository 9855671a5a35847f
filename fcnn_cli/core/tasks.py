"""What a run trains for: the targets, output layer, loss, output error and metric of each task.

Three tasks, chosen with the `task` config group:

| task | output layer | loss (curve C), per sample | metric |
|---|---|---|---|
| `classify` | softmax over the classes | cross-entropy `-sum_k T_k log y_k` | accuracy |
| `logreg` | one sigmoid unit | binary cross-entropy `-(t log y + (1-t) log(1-y))` | accuracy |
| `autoencoder` | identity, as wide as the input | half the squared error `1/2 sum_j (y_j - x_j)^2` | none |

The loss of a batch is the mean over its B samples. Each output function is its loss's canonical
link, so the derivative of a sample's loss by the output logits a is the same formula for all
three, `y - T`, and the output error of the batch mean is `(y - T) / B`: the one line of
scikit-learn's `_backprop` (`deltas[last] = activations[-1] - y`, divided by n_samples later).
The squared error is summed over the outputs and halved, not averaged over them: that is the
loss whose gradient `_backprop` computes for MLPRegressor (its reported `loss_` also divides by
the number of outputs, its gradient does not), and the loss whose gradient is exactly `y - T`.

The loop and the backends ask the task object and never branch on its name: the numpy backend
calls `numpy_output_error`, the JAX backends `targets` and `gradients` (hand-written) or
`mean_loss` (under `jax.grad`), every backend `score` and `predict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fcnn_cli.core import model
from fcnn_cli.core.regularize import Dropout
from fcnn_cli.errors import UsageError

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

# curves.csv columns (besides epoch, lr, seconds) of a task with accuracy and of one without.
# The classifier's are the columns curves.csv always had; a val_* column only with a val split.
ACCURACY_CURVES = ("train_loss", "train_acc", "test_acc", "val_acc")
LOSS_CURVES = ("train_loss", "test_loss", "val_loss")


@dataclass(frozen=True)
class Task:
    """One task for a net with `n_inputs` inputs and hidden layers `struct` (frozen: hashable,
    so the compiled JAX programs can close over it)."""

    n_inputs: int
    n_outputs: int
    struct: tuple[int, ...]
    #: label_smoothing: a classifier's training targets are (1-e) one-hot + e/K (0: one-hot)
    label_smoothing: float = 0.0

    name: ClassVar[str] = "task"
    #: what curve C is, for plots and tables
    loss_label: ClassVar[str] = "loss"
    #: "acc" when the task has an accuracy, else None
    metric: ClassVar[str | None] = "acc"
    curve_columns: ClassVar[tuple[str, ...]] = ACCURACY_CURVES

    @classmethod
    def build(cls, settings: Settings, data: Dataset) -> Task:
        """This task for `data` and the run's `struct`, or a one-line error."""
        raise NotImplementedError

    # --- shapes ----------------------------------------------------------------------------

    def sizes(self) -> list[int]:
        """Every layer's width, input first."""
        return model.layer_sizes(self.n_inputs, self.struct, self.n_outputs)

    def hidden_sizes(self) -> list[int]:
        return self.sizes()[1:-1]

    def code_layer(self) -> int:
        """The hidden layer `probe.layer=code` reads (1 = the first hidden layer)."""
        raise UsageError("probe.layer", f"task={self.name} has no code layer; give a layer number")

    # --- the formulas, over an array namespace xp (numpy or jax.numpy) ------------------------

    def targets(self, xp: Any, x: Any, y: Any) -> Any:
        """The targets T of the rows `x` with labels `y`, shaped like the output layer."""
        raise NotImplementedError

    def train_targets(self, xp: Any, x: Any, y: Any) -> Any:
        """The targets the net is trained on: `targets`, unless a task smooths them."""
        return self.targets(xp, x, y)

    def output(self, xp: Any, a: Any) -> Any:
        """The output layer's function of the logits `a`."""
        raise NotImplementedError

    def loss_sum(self, xp: Any, a: Any, t: Any) -> Any:
        """The per-sample losses of logits `a` against targets `t`, summed over the rows."""
        raise NotImplementedError

    def correct(self, xp: Any, a: Any, y: Any) -> Any:
        """The number of rows predicted right (None for a task without accuracy)."""
        return None

    def predict(self, xp: Any, a: Any) -> Any:
        """What `predict` returns for logits `a`: labels, or the reconstruction."""
        raise NotImplementedError

    def probabilities(self, xp: Any, a: Any) -> Any:
        """Each row's probability of every class (rows x classes) for logits `a`; None for a
        task without classes."""
        return None

    def loss(self, xp: Any, a: Any, t: Any) -> Any:
        """The batch loss: the mean over rows."""
        return self.loss_sum(xp, a, t) / a.shape[0]

    def output_error(self, xp: Any, a: Any, t: Any) -> Any:
        """d(per-sample loss)/d(logits) row by row: y - T for every task here."""
        return self.output(xp, a) - t

    def score(self, xp: Any, a: Any, x: Any, y: Any) -> tuple[Any, Any]:
        """(summed loss, number correct or None) of the rows `x`, `y` whose logits are `a`."""
        return self.loss_sum(xp, a, self.targets(xp, x, y)), self.correct(xp, a, y)

    def mean_loss(self, xp: Any, params: model.Params, x: Any, t: Any, activation: str,
                  dropout: Dropout | None = None) -> Any:
        """The batch loss as a function of the parameters: what `jax.grad` differentiates.
        `dropout`: the batch's masks (training with dropout), per layer as `model.forward`."""
        return self.loss(xp, model.logits(xp, params, x, activation, dropout), t)

    def gradients(self, xp: Any, params: model.Params, x: Any, t: Any, activation: str,
                  dropout: Dropout | None = None, input_error: bool = False) -> Any:
        """d(mean_loss)/d(params) by hand-written back-propagation of the output error; with
        `input_error`, (those, d(mean_loss)/dx)."""
        zs = model.forward(xp, params, x, activation, dropout)
        return model.backward(xp, params, zs, self.output_error(xp, zs[-1], t) / x.shape[0],
                              activation, dropout, input_error)

    def numpy_output_error(self, a: np.ndarray, x: np.ndarray, y: np.ndarray,
                           out: np.ndarray) -> None:
        """`output_error` against the training targets, written into `out` (the numpy
        backend's preallocated buffer)."""
        np.subtract(self.output(np, a), self.train_targets(np, x, y), out=out)

    #: figures a run of this task gets beyond its curves, by name (fcnn_cli.runs.figures
    #: draws them)
    figures: ClassVar[tuple[str, ...]] = ()


class Classify(Task):
    """Softmax over the classes, cross-entropy: the lab's classifier (the default task)."""

    name = "classify"
    loss_label = "cross-entropy"

    @classmethod
    def build(cls, settings: Settings, data: Dataset) -> Task:
        if data.n_classes < 2:
            raise UsageError("dataset.classes", "task=classify needs at least two classes; got "
                                                f"{list(data.classes)}")
        return cls(data.n_features, data.n_classes, settings.struct, settings.label_smoothing)

    def code_layer(self) -> int:
        # A classifier's "code" is its bottleneck: the narrowest hidden layer (the first of
        # equals), e.g. the 16 of struct=[512,16,256].
        hidden = self.hidden_sizes()
        if not hidden:
            raise UsageError("probe.layer", "a net without hidden layers (struct=[]) has no "
                                            "hidden layer to probe")
        return 1 + hidden.index(min(hidden))

    def targets(self, xp: Any, x: Any, y: Any) -> Any:
        return (y[:, None] == xp.arange(self.n_outputs)).astype(x.dtype)  # one-hot

    def train_targets(self, xp: Any, x: Any, y: Any) -> Any:
        # optax.smooth_labels' formula: the one-hot's mass e spread evenly over the K classes.
        t = self.targets(xp, x, y)
        e = self.label_smoothing
        return t if not e else t * (1.0 - e) + e / self.n_outputs

    def output(self, xp: Any, a: Any) -> Any:
        return model.softmax(xp, a)

    def loss_sum(self, xp: Any, a: Any, t: Any) -> Any:
        return -xp.sum(model.log_softmax(xp, a) * t)

    def correct(self, xp: Any, a: Any, y: Any) -> Any:
        return xp.sum(xp.argmax(a, axis=1) == y)

    def predict(self, xp: Any, a: Any) -> Any:
        return xp.argmax(a, axis=1)

    def probabilities(self, xp: Any, a: Any) -> Any:
        return model.softmax(xp, a)

    def numpy_output_error(self, a: np.ndarray, x: np.ndarray, y: np.ndarray,
                           out: np.ndarray) -> None:
        # softmax(a) - T without forming T: T is 1-e at the label, plus e/K everywhere.
        np.subtract(a, a.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        e = self.label_smoothing
        out[np.arange(out.shape[0]), y] -= 1.0 - e
        if e:
            out -= e / self.n_outputs


class LogReg(Task):
    """Binary logistic regression (Problem 5.1): one sigmoid output, binary cross-entropy."""

    name = "logreg"
    loss_label = "binary cross-entropy"

    @classmethod
    def build(cls, settings: Settings, data: Dataset) -> Task:
        if data.n_classes != 2:
            raise UsageError(
                "dataset.classes",
                "task=logreg separates two classes: give two, e.g. dataset.classes=[3,8]; got "
                f"{data.n_classes} ({', '.join(str(c) for c in data.classes)})",
            )
        if settings.struct:
            raise UsageError(
                "struct",
                "task=logreg is logistic regression, a net without hidden layers: struct must be "
                f"[]; got {model.struct_text(settings.struct)} (a binary net with hidden layers is "
                "task=classify with two dataset.classes)",
            )
        return cls(data.n_features, 1, settings.struct)

    def targets(self, xp: Any, x: Any, y: Any) -> Any:
        return y[:, None].astype(x.dtype)  # labels 0 and 1: the second class is the positive one

    def output(self, xp: Any, a: Any) -> Any:
        return model.activate(xp, "sigmoid", a)

    def loss_sum(self, xp: Any, a: Any, t: Any) -> Any:
        # -(t log s(a) + (1-t) log(1-s(a))) = log(1 + e^a) - t a, finite for any logit.
        return xp.sum(xp.logaddexp(0.0, a) - t * a)

    def correct(self, xp: Any, a: Any, y: Any) -> Any:
        return xp.sum((a[:, 0] > 0) == (y == 1))

    def predict(self, xp: Any, a: Any) -> Any:
        return (a[:, 0] > 0).astype(xp.int32)

    def probabilities(self, xp: Any, a: Any) -> Any:
        positive = self.output(xp, a)  # P(the second class)
        return xp.concatenate([1 - positive, positive], axis=1)


class Autoencoder(Task):
    """Problem 5.2: `struct` is the encoder down to the code layer, the decoder mirrors it;
    identity output as wide as the input, half the squared reconstruction error; no labels."""

    name = "autoencoder"
    loss_label = "squared error / 2"
    metric = None
    curve_columns = LOSS_CURVES
    figures = ("reconstructions",)

    @classmethod
    def build(cls, settings: Settings, data: Dataset) -> Task:
        if not settings.struct:
            raise UsageError("struct", "task=autoencoder needs the encoder's layers down to the "
                                       "code layer, e.g. struct=[256,32]; got []")
        return cls(data.n_features, data.n_features, settings.struct)

    def sizes(self) -> list[int]:
        return [self.n_inputs, *self.struct, *self.struct[-2::-1], self.n_inputs]

    def code_layer(self) -> int:
        return len(self.struct)

    def targets(self, xp: Any, x: Any, y: Any) -> Any:
        return x

    def output(self, xp: Any, a: Any) -> Any:
        return a

    def loss_sum(self, xp: Any, a: Any, t: Any) -> Any:
        return 0.5 * xp.sum((a - t) ** 2)

    def predict(self, xp: Any, a: Any) -> Any:
        return a

    def numpy_output_error(self, a: np.ndarray, x: np.ndarray, y: np.ndarray,
                           out: np.ndarray) -> None:
        np.subtract(a, x, out=out)


TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (Classify, LogReg, Autoencoder)}


def create(settings: Settings, data: Dataset) -> Task:
    """The task named by `settings.task` for `data`, checked against both (one-line errors)."""
    if settings.task not in TASKS:
        raise UsageError("task", f"must be one of {', '.join(TASKS)}; got {settings.task!r}")
    return TASKS[settings.task].build(settings, data)
