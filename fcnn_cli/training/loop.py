"""The one epoch loop every backend runs through.

It owns what is the same for all backends: the seeded batch order, the learning-rate schedule,
curves A (training accuracy), B (test accuracy) and C (training loss) after every epoch, the
validation curve, the progress bar, and stopping on divergence. The loss and whether there is
an accuracy are the task's (`fcnn_cli.core.tasks`); the loop records what the backend's scoring
returns and shows the task's curve columns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fcnn_cli.core import augment, regularize, schedules
from fcnn_cli.data.dataset import SHAPES

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.training.early_stopping import EarlyStopping
    from fcnn_cli.training.progress import Display, EpochBar


@dataclass
class EpochRecord:
    epoch: int
    lr: float
    train_loss: float
    train_acc: float | None  # None: the task has no accuracy (an autoencoder)
    test_acc: float | None
    val_acc: float | None  # None also when there is no validation set
    seconds: float  # cumulative training time: epochs plus curves A and C
    test_loss: float | None = None
    val_loss: float | None = None


@dataclass
class History:
    records: list[EpochRecord] = field(default_factory=list)
    status: str = "completed"
    fit_seconds: float = 0.0
    #: with early stopping, what metrics.json says of it (EarlyStopping.finish); else None
    stop: dict | None = None

    @property
    def last(self) -> EpochRecord:
        return self.records[-1]

    @property
    def kept(self) -> EpochRecord:
        """The record of the weights the run ends with: the best epoch's, when early stopping
        restored them, else the last."""
        if self.stop is not None and self.stop["restored_best"]:
            return self.records[self.stop["best_epoch"] - 1]
        return self.last

    def rows(self) -> list[dict]:
        return [asdict(r) for r in self.records]


class EpochCallback(Protocol):
    """An observer of the loop: experiment trackers (fcnn_cli/hydra_app/tracking.py), checkpoints
    (fcnn_cli/training/checkpoint.py).

    A callback may also define `on_train_start(backend, state)`: called once before the first
    epoch this process trains, with the backend and the loop's `LoopState` (which holds the
    epochs done before, when a run is resumed), and `on_train_end(history)`: called once the
    loop has ended (completed, diverged or stopped between two epochs), not after an exception.
    """

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Called after each epoch, once its record is in the history and the loop's state has
        moved on to the next epoch (its learning rate annealed): a diverged one too."""


def batch_rng(seed: int) -> np.random.Generator:
    """The generator of the per-epoch batch orders, the same for every backend."""
    return np.random.default_rng([seed, 1])


@dataclass
class LoopState:
    """Where training stands between two epochs, besides the backend's weights and optimizer
    state: the curves so far, the next epoch's learning rate, and the generator that draws each
    epoch's batch order. A checkpoint saves it; a resumed run starts from the saved one. (The
    rate is recorded, not read: every epoch's rate is `schedules.rate` of its number.)"""

    history: History
    lr: float
    rng: np.random.Generator
    #: early stopping's count and best weights (fcnn_cli.training.early_stopping); None: off
    early: EarlyStopping | None = None

    @property
    def epoch(self) -> int:
        """Epochs done."""
        return len(self.history.records)


def start(settings: Settings) -> LoopState:
    """The state before the first epoch."""
    return LoopState(History(), settings.lr, batch_rng(settings.seed))


# How the progress bar names each curve column.
_STAT_NAMES = {"train_loss": "loss", "train_acc": "train", "test_acc": "test", "val_acc": "val",
               "test_loss": "test loss", "val_loss": "val loss"}


def _stats(record: EpochRecord, columns: tuple[str, ...]) -> str:
    """The progress bar's figures: the task's curve columns, accuracies in percent."""
    parts = []
    for column in columns:
        value = getattr(record, column)
        if value is not None:
            text = f"{100 * value:.2f}%" if column.endswith("_acc") else f"{value:.4f}"
            parts.append(f"{_STAT_NAMES[column]} {text}")
    return "  ".join(parts)


def run(backend: Backend, settings: Settings, callbacks: Sequence[EpochCallback] = (),
        state: LoopState | None = None, stop: Callable[[], bool] | None = None,
        display: Display | None = None) -> History:
    """Train `backend` up to epoch `settings.max_epochs` and return the curves.

    `state`: where to go on from (a resumed run's, with the backend's weights and optimizer
    state already restored); by default the start. Each of `callbacks` sees every epoch's record
    as soon as it is appended, and (`on_train_end`, where it has one) the history once the loop
    ends, however it ends but by an exception. `stop` is asked before every epoch: when it
    answers true (a signal arrived, see fcnn_cli.training.interrupt) the loop ends there with
    status "interrupted". `display`: where the progress bar goes (fcnn_cli.training.progress);
    by default stderr, when `settings.progress`.
    """
    from fcnn_cli.training import early_stopping
    from fcnn_cli.training.progress import Display, EpochBar

    state = start(settings) if state is None else state
    if state.early is None:
        state.early = early_stopping.create(settings.early_stopping, backend.task)
    history = state.history
    history.status = "completed"
    has_val, has_test = backend.data.has_val, backend.data.has_test
    for callback in callbacks:
        if hasattr(callback, "on_train_start"):
            callback.on_train_start(backend, state)
    display = Display(settings.progress) if display is None else display
    columns = backend.task.curve_columns
    bar = EpochBar(display, f"{settings.backend} epochs", settings.max_epochs, state.epoch,
                   backend.data.n_train, settings.batch_size,
                   stats=_stats(history.last, columns) if history.records else "",
                   before=history.last.seconds if history.records else 0.0)
    with bar:
        backend.batch_hook = bar.batch_hook
        try:
            _epochs(backend, settings, callbacks, state, stop, bar, has_val, has_test)
        finally:
            backend.batch_hook = None
    for callback in callbacks:
        if hasattr(callback, "on_train_end"):
            callback.on_train_end(history)
    if state.early is not None and history.records:
        # After the callbacks: the last checkpoint holds the last epoch's weights, from which a
        # resumed run goes on; the best epoch's are what the run ends with.
        history.stop = state.early.finish(backend, state.epoch)
    return history


def _augmented(x: np.ndarray, settings: Settings, epoch: int,
               buffers: dict[str, np.ndarray]) -> np.ndarray:
    """Epoch `epoch`'s training inputs: the rows of `x` distorted, then shifted (each step that
    is on), in `buffers` kept from the last epoch."""
    image = SHAPES[settings.dataset].image
    if settings.distortion.active:
        x = buffers["distorted"] = augment.distorted_training_set(
            x, image, settings.seed, epoch, settings.distortion, out=buffers.get("distorted"))
    if settings.augment_shift:
        x = buffers["shifted"] = augment.shifted_training_set(
            x, image, settings.seed, epoch, settings.augment_shift, out=buffers.get("shifted"))
    return x


def _epochs(backend: Backend, settings: Settings, callbacks: Sequence[EpochCallback],
            state: LoopState, stop: Callable[[], bool] | None, bar: EpochBar, has_val: bool,
            has_test: bool) -> None:
    """Train the epochs from `state.epoch + 1` to max_epochs into `state.history`: before each,
    ask `stop` (a signal) and early stopping; then the epoch's batch order (the seeded
    generator), its augmented inputs, the backend's epoch, the curves, the record shown to
    `callbacks` and the bar; a diverged loss ends the loop with that status."""
    history = state.history
    buffers: dict[str, np.ndarray] = {}  # augment.*: the epoch's training images, reused
    for epoch in range(state.epoch + 1, settings.max_epochs + 1):
        if state.early is not None and state.early.reason is not None:
            break  # a resumed run that had stopped early stays stopped
        if stop is not None and stop():
            history.status = "interrupted"
            break
        order = state.rng.permutation(backend.data.n_train)
        lr = schedules.rate(settings, epoch)
        bar.epoch_started()
        start_time = time.perf_counter()  # making the epoch's inputs is part of its cost
        if settings.augment_shift or settings.distortion.active:
            backend.set_train_inputs(_augmented(backend.data.x_train, settings, epoch, buffers))
        if backend.dropout_scales is not None:  # the epoch's masks, the same on every backend
            backend.set_dropout_masks(regularize.draw_masks(
                settings.seed, epoch, backend.data.n_train, backend.task.sizes(),
                backend.dropout_rates, settings.dropout_noise))
        backend.train_epoch(order, lr, schedules.momentum(settings, epoch))
        train_loss, train_acc = backend.evaluate("train")  # curves C and A
        seconds = time.perf_counter() - start_time  # a JAX epoch has ended once it is scored
        history.fit_seconds += seconds
        bar.epoch_trained(seconds)
        # curve B; data given as arrays (FCNNClassifier.fit) has no test split
        test_loss, test_acc = backend.evaluate("test") if has_test else (None, None)
        val_loss, val_acc = backend.evaluate("val") if has_val else (None, None)
        record = EpochRecord(epoch, lr, train_loss, train_acc, test_acc, val_acc,
                             history.fit_seconds, test_loss, val_loss)
        history.records.append(record)
        diverged = not math.isfinite(train_loss)
        if not diverged:
            state.lr = schedules.rate(settings, epoch + 1)  # what the checkpoint records
            if state.early is not None:  # before the callbacks: a checkpoint holds its count
                state.early.update(epoch, getattr(record, state.early.metric), backend)
        for callback in callbacks:
            callback.on_epoch_end(record)
        bar.epoch_ended(_stats(record, backend.task.curve_columns))
        if diverged:
            history.status = "diverged"
            break
        if state.early is not None and state.early.reason is not None:
            break  # early stopping: status stays "completed"
