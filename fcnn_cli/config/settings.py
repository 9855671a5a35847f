"""The checked settings of a run: plain, frozen and typed (built by fcnn_cli.config.validate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer, with scikit-learn MLPClassifier's meanings (see fcnn_cli.core.optim)."""

    name: str = "sgd"
    momentum: float = 0.0
    nesterov: bool = False
    alpha: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8


@dataclass(frozen=True)
class ProbeSettings:
    """A probe: after training, logistic regression on hidden layer `layer` for two classes."""

    layer: int | str  # a hidden layer number (1 = the first), or "code"
    classes: tuple[int, ...] = (3, 8)
    lr: float = 0.1
    annealing: float = 1.0
    max_epochs: int = 20
    batch_size: int = 32


@dataclass(frozen=True)
class ScheduleSettings:
    """The learning rate per epoch (fcnn_cli.core.schedules); exponential uses `annealing`."""

    name: str = "exponential"
    every: int = 10
    factor: float = 0.5
    min_lr: float = 0.0
    warmup_epochs: int = 0


@dataclass(frozen=True)
class EarlyStoppingSettings:
    """early_stopping.*: stop after `patience` epochs without improving the validation score
    by `min_delta` (fcnn_cli.training.early_stopping)."""

    patience: int
    min_delta: float = 1e-4
    restore_best: bool = True


@dataclass(frozen=True)
class Settings:
    """What one training run needs, checked."""

    backend: str
    dataset: str
    dataset_path: str | None
    struct: tuple[int, ...]
    activation: str = "relu"
    init_range: float = 1.0
    lr: float = 0.1
    annealing: float = 1.0
    max_epochs: int = 10
    batch_size: int = 10
    seed: int = 1
    dtype: str = "float32"
    device: str = "cpu"
    val_fraction: float = 0.0
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    progress: bool = False
    plot: bool = True
    backend_options: dict[str, Any] = field(default_factory=dict)
    task: str = "classify"
    #: dataset.classes: the dataset's labels to keep, in their new order; None keeps all
    classes: tuple[int, ...] | None = None
    probe: ProbeSettings | None = None
    objective: str = "auto"
    #: the run directory this run resumes (fcnn_cli.hydra_app.resume), None for a new run
    resume: str | None = None
    #: checkpoint.every_s: the least seconds between two checkpoints (0: after every epoch)
    checkpoint_every_s: float = 5.0
    #: schedule.*: the learning rate of each epoch
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    #: early_stopping.*, None when early_stopping.patience is null (off)
    early_stopping: EarlyStoppingSettings | None = None
    #: augment.shift: train each epoch on the images shifted by up to this many pixels (0: none)
    augment_shift: int = 0
    #: dropout.hidden and dropout.input: inverted dropout rates in training (0: none)
    dropout_hidden: float = 0.0
    dropout_input: float = 0.0
    #: max_norm: each hidden unit's incoming weights kept to this L2 norm (None: unbounded)
    max_norm: float | None = None
