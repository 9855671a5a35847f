"""What the shared epoch loop needs from a backend, and the parts all backends share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli import model, tasks

if TYPE_CHECKING:
    from fcnn_cli.datasets import Dataset
    from fcnn_cli.settings import Settings


class Backend(ABC):
    """One model on one compute engine. The loop owns epochs, learning rate and batch order."""

    name: str = "base"
    #: rows scored at once when a whole split is evaluated (None: all of them), for the memory
    #: estimate made before a run starts (fcnn_cli.memory)
    eval_rows: int | None = None

    def __init__(self, settings: Settings, data: Dataset) -> None:
        self.settings = settings
        self.data = data
        #: what the net is trained for: targets, output layer, loss and metric (fcnn_cli.tasks)
        self.task = tasks.create(settings, data)
        #: seconds spent compiling (JIT backends), reported apart from the timed epochs
        self.compile_seconds = 0.0

    @property
    def device(self) -> str:
        """The device the computation actually runs on."""
        return "cpu"

    def initial_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The seeded initial weights that every from-scratch backend starts from."""
        return model.init_params(self.task.sizes(), self.settings.seed, self.settings.init_range,
                                 self.settings.dtype)

    @abstractmethod
    def train_epoch(self, order: np.ndarray, lr: float) -> None:
        """One pass of mini-batch updates over the training samples in `order`."""

    @abstractmethod
    def evaluate(self, split: str) -> tuple[float, float | None]:
        """(mean loss, accuracy or None) on the split 'train', 'val' or 'test' (the task's)."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """The task's prediction for the rows of `x`: class labels, or reconstructions."""

    @abstractmethod
    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current weights as numpy (W, b) pairs, input layer first."""
