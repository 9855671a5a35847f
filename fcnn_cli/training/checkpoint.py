"""Checkpoints: a run directory's checkpoint.npz holds all a run needs to go on exactly where it
stopped (`fcnn train resume=RUN_DIR`): written after an epoch when the last is `checkpoint.every_s`
seconds old, and always after the first and the last epoch (`Checkpointer`).

One flat npz record of plain arrays, written atomically (no pickles: `numpy.load(path,
allow_pickle=False)` reads it):

    format_version      int64 scalar, FORMAT_VERSION
    epoch               int64 scalar, the epochs done
    lr                  float64 scalar, the learning rate of the next epoch (annealed)
    W0, b0, W1, ...     the parameters as the backend trains them (model.npz's names)
    step, m.W0, ...     the optimizer's state, as `optim.state_arrays` names it
    batch_order_state   str (JSON), the batch-order generator's `bit_generator.state`
    history             str (JSON), every epoch's curves so far and the training seconds
    run                 str (JSON), what the run must share with the one resuming it: backend,
                        task, data, architecture, dtype, seed, batch size, optimizer, ...
    early_stopping      str (JSON), only with early stopping: its count, best score and epoch
    best_W0, best_b0..  only with early stopping's restore_best: the best epoch's parameters

The parameters, the optimizer's buffers, the generator's state and the learning rate are saved
bit for bit, so a resumed run trains the very epochs the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli import atomic
from fcnn_cli.config.settings import OptimizerSettings, ScheduleSettings
from fcnn_cli.core import optim
from fcnn_cli.training import early_stopping, loop

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend, Params
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

FORMAT_VERSION = 1
# The arrays besides the layers and the optimizer's state.
FORMAT, EPOCH, LR = "format_version", "epoch", "lr"
BATCH_ORDER, HISTORY, RUN = "batch_order_state", "history", "run"
META = (FORMAT, EPOCH, LR, BATCH_ORDER, HISTORY, RUN)
# Written with early stopping only: its state (JSON), and the best epoch's weights as
# best_W0, best_b0, ... (no dot in the names: dotted names are the optimizer's).
EARLY, BEST = "early_stopping", "best_"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line."""


@dataclass
class Checkpoint:
    """A checkpoint as read back."""

    epoch: int
    lr: float
    params: Params
    opt_state: optim.OptState
    batch_order_state: dict[str, Any]
    history: loop.History
    run: dict[str, Any]
    #: early stopping's state and best weights (None: the run has no early stopping)
    early: dict[str, Any] | None = None
    best_params: Params | None = None


def run_record(settings: Settings, data: Dataset) -> dict[str, Any]:
    """What a run resuming from a checkpoint must have in common with the run that wrote it.

    `max_epochs` is not part of it: a run may be extended."""
    return {
        "backend": settings.backend, "task": settings.task, "dataset": settings.dataset,
        "classes": None if settings.classes is None else list(settings.classes),
        "val_fraction": settings.val_fraction, "n_train": int(data.n_train),
        "n_features": int(data.n_features), "struct": list(settings.struct),
        "activation": settings.activation, "dtype": settings.dtype, "seed": settings.seed,
        "init_range": settings.init_range, "lr": settings.lr, "annealing": settings.annealing,
        "batch_size": settings.batch_size, "optimizer": asdict(settings.optimizer),
        "schedule": asdict(settings.schedule),
        "early_stopping": None if settings.early_stopping is None else asdict(settings.early_stopping),
    }


#: The run record's keys that checkpoints of older fcnn versions lack, with the value that such
#: a run had: it trained the same way, and may be resumed.
LEGACY = {"schedule": asdict(ScheduleSettings()), "early_stopping": None}
#: The same within a block of the record: the optimizer's keys added since (the momentum's rise).
LEGACY_FIELDS = {"optimizer": {"momentum_start": OptimizerSettings.momentum_start,
                               "momentum_epochs": 0}}


def _saved(saved: dict[str, Any], key: str) -> Any:
    """The record's `key` as a checkpoint of any fcnn version holds it, older ones completed."""
    value = saved.get(key, LEGACY.get(key))
    if isinstance(value, dict) and key in LEGACY_FIELDS:
        return {**LEGACY_FIELDS[key], **value}
    return value


def _text(value: Any) -> np.ndarray:
    """JSON text as a 0-d unicode array (an npz member numpy reads without pickling)."""
    return np.array(json.dumps(value))


def arrays(backend: Backend, state: loop.LoopState, run: dict[str, Any]) -> dict[str, np.ndarray]:
    """The checkpoint's arrays for `backend` and the loop's `state` after an epoch."""
    params, opt_state = backend.get_state()
    out: dict[str, np.ndarray] = {
        FORMAT: np.array(FORMAT_VERSION, dtype=np.int64),
        EPOCH: np.array(state.epoch, dtype=np.int64),
        LR: np.array(state.lr, dtype=np.float64),
    }
    for i, (w, b) in enumerate(params):
        out[f"W{i}"], out[f"b{i}"] = np.asarray(w), np.asarray(b)
    out.update(optim.state_arrays(opt_state))
    out[BATCH_ORDER] = _text(state.rng.bit_generator.state)
    out[HISTORY] = _text({"records": state.history.rows(),
                          "fit_seconds": state.history.fit_seconds})
    out[RUN] = _text(run)
    if state.early is not None:  # only with early stopping: older readers never see these
        out[EARLY] = _text(state.early.state())
        for i, (w, b) in enumerate(state.early.best_params or ()):
            out[f"{BEST}W{i}"], out[f"{BEST}b{i}"] = np.asarray(w), np.asarray(b)
    return out


def save(path: Path, backend: Backend, state: loop.LoopState, run: dict[str, Any]) -> None:
    """Write the checkpoint atomically: a reader (or a resume after a kill) sees the previous
    epoch's or this one's, never part of one."""
    data = arrays(backend, state, run)
    with atomic.atomic_open(path, "wb") as f:
        np.savez(f, **data)


def load(path: Path) -> Checkpoint:
    """Read and check a checkpoint; CheckpointError (one line) when it is missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: damaged checkpoint ({_one_line(err)})") from None
    try:
        return _parse(found)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: damaged checkpoint ({err})") from None


def _parse(found: dict[str, np.ndarray]) -> Checkpoint:
    missing = [name for name in (*META, "W0", "b0", "step") if name not in found]
    if missing:
        raise CheckpointError(f"it lacks {', '.join(missing)}")
    version = _scalar(found, FORMAT, int)
    if version > FORMAT_VERSION:
        raise CheckpointError(f"format version {version} was written by a newer fcnn; this one "
                              f"reads versions up to {FORMAT_VERSION}: upgrade fcnn")
    epoch, lr = _scalar(found, EPOCH, int), _scalar(found, LR, float)
    if epoch < 1 or not math.isfinite(lr) or lr < 0:  # 0: a cosine schedule's end
        raise CheckpointError(f"epoch {epoch}, lr {lr}")
    n_layers = sum(1 for name in found if name.startswith("W") and name[1:].isdigit())
    try:
        params = [(found[f"W{i}"], found[f"b{i}"]) for i in range(n_layers)]
        opt_arrays = {name: a for name, a in found.items()
                      if name == "step" or ("." in name and name not in META)}
        opt_state = optim.state_from_arrays(opt_arrays)
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(f"its layers or optimizer state are incomplete: {_one_line(err)}") from None
    batch_order = _json(found, BATCH_ORDER, dict)
    history_data = _json(found, HISTORY, dict)
    run = _json(found, RUN, dict)
    names = {f.name for f in fields(loop.EpochRecord)}
    try:
        records = [loop.EpochRecord(**row) for row in history_data["records"]
                   if isinstance(row, dict) and set(row) <= names]
        fit_seconds = float(history_data["fit_seconds"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"its history cannot be read: {_one_line(err)}") from None
    if len(records) != epoch or [r.epoch for r in records] != list(range(1, epoch + 1)):
        raise CheckpointError(f"its history holds {len(records)} epochs, not {epoch}")
    early, best = None, None
    if EARLY in found:
        early = _json(found, EARLY, dict)
        if not {"best_score", "best_epoch", "wait", "reason"} <= set(early):
            raise CheckpointError(f"{EARLY} lacks part of its state")
        n_best = sum(1 for name in found if name.startswith(f"{BEST}W"))
        try:
            best = [(found[f"{BEST}W{i}"], found[f"{BEST}b{i}"]) for i in range(n_best)] or None
        except KeyError as err:
            raise CheckpointError(f"its best weights are incomplete: {_one_line(err)}") from None
    return Checkpoint(epoch, lr, params, opt_state, batch_order,
                      loop.History(records=records, fit_seconds=fit_seconds), run, early, best)


def _scalar(found: dict[str, np.ndarray], name: str, kind: type) -> Any:
    a = found[name]
    number = np.issubdtype(a.dtype, np.integer if kind is int else np.number)
    if a.shape != () or not number:
        raise CheckpointError(f"{name} is not a {kind.__name__} scalar")
    return kind(a)


def _json(found: dict[str, np.ndarray], name: str, kind: type) -> Any:
    a = found[name]
    if a.shape != () or a.dtype.kind != "U":
        raise CheckpointError(f"{name} is not a text scalar")
    try:
        value = json.loads(str(a))
    except ValueError as err:
        raise CheckpointError(f"{name}: {_one_line(err)}") from None
    if not isinstance(value, kind):
        raise CheckpointError(f"{name} is not a JSON {kind.__name__}")
    return value


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def differences(checkpoint: Checkpoint, run: dict[str, Any]) -> list[str]:
    """How the run that wrote `checkpoint` differs from `run` (a `run_record`): 'key: saved X,
    now Y' for each key."""
    saved = checkpoint.run
    return [f"{key}: saved {_saved(saved, key)!r}, now {value!r}"
            for key, value in run.items() if _saved(saved, key) != value]


def restore(checkpoint: Checkpoint, backend: Backend, settings: Settings) -> loop.LoopState:
    """Put the saved parameters and optimizer state into `backend` and return the loop's state
    to go on from. CheckpointError when they do not fit the backend's model."""
    try:
        backend.set_state(checkpoint.params, checkpoint.opt_state)
        rng = loop.batch_rng(settings.seed)
        rng.bit_generator.state = checkpoint.batch_order_state
        early = early_stopping.create(settings.early_stopping, backend.task)
        if early is not None and checkpoint.early is not None:
            early.load(checkpoint.early, checkpoint.best_params)
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"the checkpoint does not fit this run's model: {_one_line(err)}") from None
    return loop.LoopState(checkpoint.history, checkpoint.lr, rng, early)


class Checkpointer:
    """The loop's callback that keeps the run's checkpoint; `seconds` is the time spent writing
    them (outside the timed epochs).

    A checkpoint costs a write and an fsync of every parameter (milliseconds to tens of
    milliseconds), which on a small net is more than an epoch. So one is written after an epoch
    only when the last is at least `every_s` seconds old (by `clock`; 0: after every epoch), and
    always: after a new run's first epoch (it is resumable from then on), and when
    the loop ends (`on_train_end`: the last epoch, completed or stopped by a signal between two
    epochs). What a kill -9 or a crash can lose is at most `every_s` seconds of training; the
    checkpoint itself is the same whenever it is written, so a resumed run is the same bits.
    """

    def __init__(self, path: Path, run: dict[str, Any], every_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.run = run
        self.every_s = every_s
        self.seconds = 0.0
        #: the epochs whose checkpoint was written, in order (the last is what the file holds)
        self.written: list[int] = []
        self._clock = clock
        self._last: float | None = None  # when the last checkpoint was written (None: none yet)
        self._backend: Backend | None = None
        self._state: loop.LoopState | None = None

    def on_train_start(self, backend: Backend, state: loop.LoopState) -> None:
        self._backend, self._state = backend, state
        # A resumed run has its checkpoint already: the next is due every_s from now.
        self._last = self._clock() if state.epoch > 0 else None

    def on_epoch_end(self, record: loop.EpochRecord) -> None:
        if self._last is None or self._clock() - self._last >= self.every_s:
            self._write()

    def on_train_end(self, history: loop.History) -> None:
        """The loop has ended (completed, diverged, or stopped between two epochs): the file
        holds its last epoch."""
        if self._state is not None and self._state.epoch > 0 and (
                not self.written or self.written[-1] != self._state.epoch):
            self._write()

    def _write(self) -> None:
        if self._backend is None or self._state is None:
            raise RuntimeError("Checkpointer.on_epoch_end before on_train_start")
        start = time.perf_counter()
        save(self.path, self._backend, self._state, self.run)
        self.seconds += time.perf_counter() - start
        self.written.append(self._state.epoch)
        self._last = self._clock()
