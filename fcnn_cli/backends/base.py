"""What the shared epoch loop needs from a backend, and the parts all backends share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli.core import model, regularize, tasks
from fcnn_cli.core.model import Params

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.core.optim import OptState
    from fcnn_cli.data.dataset import Dataset

#: A backend that trains batch by batch in Python calls its `batch_hook` every this many batches.
BATCH_HOOK_EVERY = 8


class Backend(ABC):
    """One model on one compute engine. The loop owns epochs, learning rate and batch order."""

    name: str = "base"
    #: Set by the loop while it shows progress within an epoch (None otherwise): a backend that
    #: trains batch by batch in Python calls it in `train_epoch` with the samples of the epoch
    #: done so far, every BATCH_HOOK_EVERY batches; one whose epoch is one compiled call never.
    batch_hook: Callable[[int], None] | None = None

    def __init__(self, settings: Settings, data: Dataset) -> None:
        self.settings = settings
        self.data = data
        #: what the net is trained for: targets, output layer, loss and metric (fcnn_cli.core.tasks)
        self.task = tasks.create(settings, data)
        #: seconds spent compiling (JIT backends), reported apart from the timed epochs
        self.compile_seconds = 0.0
        #: the inputs `train_epoch` trains on, row for row with data.y_train: the training set's
        #: own, or the epoch's shifted or distorted copies (augment.*) that the loop sets
        self.train_x = data.x_train
        #: dropout: each layer's input rate (fcnn_cli.core.regularize), and the scale of what it
        #: keeps (None where a layer drops nothing); `dropout_scales` is None without dropout
        self.dropout_rates = regularize.layer_rates(len(self.task.sizes()) - 1,
                                                    settings.dropout_input, settings.dropout_hidden)
        self.dropout_scales = ([regularize.scale(p, settings.dropout_noise) if p else None
                                for p in self.dropout_rates] if any(self.dropout_rates) else None)
        #: the epoch's masks per layer (rows in the epoch's order), set by the loop
        self.dropout_masks: list[np.ndarray | None] | None = None

    @property
    def device(self) -> str:
        """The device the computation actually runs on."""
        return "cpu"

    def initial_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The seeded initial weights that every from-scratch backend starts from."""
        return model.init_params(self.task.sizes(), self.settings.seed, self.settings.init_range,
                                 self.settings.dtype)

    def set_train_inputs(self, x: np.ndarray) -> None:
        """Train the next epochs on the rows of `x` (the training set's, augmented) instead of
        data.x_train; scoring the 'train' split still reads data.x_train."""
        self.train_x = x

    def set_dropout_masks(self, masks: list[np.ndarray | None]) -> None:
        """The next epoch's dropout keep flags, per layer (regularize.draw_masks): row i masks
        the i-th sample of the epoch's order."""
        self.dropout_masks = masks

    def batch_dropout(self, rows: slice) -> list[tuple[np.ndarray, float] | None] | None:
        """The dropout of the batch at positions `rows` of the epoch's order, in the form of
        `model.forward`'s `dropout`; None without dropout."""
        if self.dropout_scales is None or self.dropout_masks is None:
            return None
        return [None if keep is None else (keep[rows], factor)
                for keep, factor in zip(self.dropout_masks, self.dropout_scales, strict=True)]

    def epoch_momentum(self, momentum: float | None) -> float:
        """The momentum `train_epoch` was given, or optimizer.momentum for None."""
        return self.settings.optimizer.momentum if momentum is None else momentum

    @abstractmethod
    def train_epoch(self, order: np.ndarray, lr: float, momentum: float | None = None) -> None:
        """One pass of mini-batch updates over the training samples in `order`, at learning
        rate `lr` and (SGD) `momentum`: None is optimizer.momentum, the loop passes the epoch's
        (`schedules.momentum`)."""

    @abstractmethod
    def evaluate(self, split: str) -> tuple[float, float | None]:
        """(mean loss, accuracy or None) on the split 'train', 'val' or 'test' (the task's)."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """The task's prediction for the rows of `x`: class labels, or reconstructions."""

    @abstractmethod
    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current weights as numpy (W, b) pairs, input layer first."""

    @abstractmethod
    def get_opt_state(self) -> OptState:
        """A copy of the optimizer's state as numpy arrays, in the shape of `fcnn_cli.core.optim`."""

    def get_state(self) -> tuple[Params, OptState]:
        """What a checkpoint keeps of the backend: its parameters as it trains them and its
        optimizer's state, copied. `set_state` takes them back."""
        return self.get_params(), self.get_opt_state()

    @abstractmethod
    def set_state(self, params: Params, opt_state: OptState) -> None:
        """Go on from `params` and `opt_state` (as `get_state` returned them, possibly in another
        process): the next epoch then runs exactly as it would have after the saved one.
        Raises ValueError when they do not fit this model (shapes, optimizer buffers)."""


def check_like(what: str, arrays: Params, like: Params) -> None:
    """Raise ValueError unless `arrays` are (W, b) pairs of the shapes of `like`."""
    if len(arrays) != len(like):
        raise ValueError(f"{what}: {len(arrays)} layers, the model has {len(like)}")
    for i, ((w, b), (w0, b0)) in enumerate(zip(arrays, like, strict=True)):
        if np.shape(w) != np.shape(w0) or np.shape(b) != np.shape(b0):
            raise ValueError(f"{what}: layer {i} is {np.shape(w)} + {np.shape(b)}, the model's "
                             f"{np.shape(w0)} + {np.shape(b0)}")


def check_state(params: Params, opt_state: OptState, like_params: Params,
                like_slots: dict[str, Params], keeper: str = "this optimizer") -> None:
    """`set_state`'s check, made before anything is written: raise ValueError unless `params`
    have the shapes of `like_params` and `opt_state` holds the buffers `like_slots` (name ->
    (W, b) pairs) of the same shapes. `keeper` names the optimizer in the message."""
    check_like("parameters", params, like_params)
    if set(opt_state.slots) != set(like_slots):
        raise ValueError(f"optimizer state holds {sorted(opt_state.slots) or 'no buffers'}, "
                         f"{keeper} keeps {sorted(like_slots) or 'none'}")
    for name, pairs in opt_state.slots.items():
        check_like(f"optimizer buffer {name}", pairs, like_slots[name])
