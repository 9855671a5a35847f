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
