"""The checked settings of a run: plain, frozen and typed (built by fcnn_cli.config.validate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fcnn_cli.config.schema import KEYS, TRAIN


def default(name: str) -> Any:
    """The schema's default of key `name` for `fcnn train`: the one place defaults are written
    (a list becomes a tuple, as the checked settings hold it)."""
    value = KEYS[name].default_in(TRAIN)
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer, with scikit-learn MLPClassifier's meanings (see fcnn_cli.core.optim)."""

    name: str = default("optimizer.name")
    momentum: float = default("optimizer.momentum")
    nesterov: bool = default("optimizer.nesterov")
    momentum_start: float = default("optimizer.momentum_start")
    momentum_epochs: int = default("optimizer.momentum_epochs")
    alpha: float = default("optimizer.alpha")
    beta1: float = default("optimizer.beta1")
    beta2: float = default("optimizer.beta2")
    epsilon: float = default("optimizer.epsilon")


@dataclass(frozen=True)
class ProbeSettings:
    """A probe: after training, logistic regression on hidden layer `layer` for two classes."""

    layer: int | str  # a hidden layer number (1 = the first), or "code"
    classes: tuple[int, ...] = default("probe.classes")
    lr: float = default("probe.lr")
    annealing: float = default("probe.annealing")
    max_epochs: int = default("probe.max_epochs")
    batch_size: int = default("probe.batch_size")


@dataclass(frozen=True)
class ScheduleSettings:
    """The learning rate per epoch (fcnn_cli.core.schedules); exponential uses `annealing`."""

    name: str = default("schedule.name")
    every: int = default("schedule.every")
    factor: float = default("schedule.factor")
    min_lr: float = default("schedule.min_lr")
    warmup_epochs: int = default("schedule.warmup_epochs")


@dataclass(frozen=True)
class EarlyStoppingSettings:
    """early_stopping.*: stop after `patience` epochs without improving the validation score
    by `min_delta` (fcnn_cli.training.early_stopping)."""

    patience: int
    min_delta: float = default("early_stopping.min_delta")
    restore_best: bool = default("early_stopping.restore_best")


@dataclass(frozen=True)
class DistortionSettings:
    """augment.elastic.* and augment.rotate, scale, shear: the warp of each epoch's training
    images (fcnn_cli.core.augment); every strength 0 (the default) is none."""

    elastic_alpha: float = default("augment.elastic.alpha")
    elastic_sigma: float = default("augment.elastic.sigma")
    rotate: float = default("augment.rotate")
    scale: float = default("augment.scale")
    shear: float = default("augment.shear")

    @property
    def active(self) -> bool:
        """Whether any distortion is on (the sigma alone distorts nothing)."""
        return any((self.elastic_alpha, self.rotate, self.scale, self.shear))


@dataclass(frozen=True)
class Settings:
    """What one training run needs, checked."""

    backend: str
    dataset: str
    dataset_path: str | None
    struct: tuple[int, ...]
    activation: str = default("activation")
    init_range: float = default("init_range")
    lr: float = default("lr")
    annealing: float = default("annealing")
    max_epochs: int = default("max_epochs")
    batch_size: int = default("batch_size")
    seed: int = default("seed")
    dtype: str = default("dtype")
    #: threads: the BLAS threads training is pinned to (None: what the machine gives;
    #: fcnn_cli.backends.threads)
    threads: int | None = default("threads")
    device: str = default("device.name")
    val_fraction: float = default("val_fraction")
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    progress: bool = False  # library use is quiet (as scikit-learn's verbose=False); the CLI shows it
    plot: bool = default("plot")
    backend_options: dict[str, Any] = field(default_factory=dict)
    task: str = "classify"
    #: dataset.classes: the dataset's labels to keep, in their new order; None keeps all
    classes: tuple[int, ...] | None = None
    probe: ProbeSettings | None = None
    objective: str = default("objective")
    #: the run directory this run resumes (fcnn_cli.hydra_app.resume), None for a new run
    resume: str | None = None
    #: checkpoint.every_s: the least seconds between two checkpoints (0: after every epoch)
    checkpoint_every_s: float = default("checkpoint.every_s")
    #: schedule.*: the learning rate of each epoch
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    #: early_stopping.*, None when early_stopping.patience is null (off)
    early_stopping: EarlyStoppingSettings | None = None
    #: augment.shift: train each epoch on the images shifted by up to this many pixels (0: none)
    augment_shift: int = default("augment.shift")
    #: augment.elastic.*, augment.rotate, augment.scale, augment.shear: each epoch's distortions
    distortion: DistortionSettings = field(default_factory=DistortionSettings)
    #: dropout.hidden and dropout.input: inverted dropout rates in training (0: none)
    dropout_hidden: float = default("dropout.hidden")
    dropout_input: float = default("dropout.input")
    #: dropout.noise: bernoulli (keep flags) or gaussian (multipliers of mean 1)
    dropout_noise: str = default("dropout.noise")
    #: adversarial.*: each batch also trained on its inputs moved by eps along the loss's
    #: gradient, in the norm, weighted (fcnn_cli.core.adversarial); eps 0 is none
    adversarial_eps: float = default("adversarial.eps")
    adversarial_norm: str = default("adversarial.norm")
    adversarial_weight: float = default("adversarial.weight")
    #: max_norm: each hidden unit's incoming weights kept to this L2 norm (None: unbounded)
    max_norm: float | None = default("max_norm")
    #: label_smoothing: a classifier's training targets (1-e) one-hot + e/K (0: one-hot)
    label_smoothing: float = default("label_smoothing")
