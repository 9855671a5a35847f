"""Validation of a composed config into plain, typed settings.

Every check names the key and what is allowed, so a typo costs one line, not a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fcnn_cli.backends import REGISTRY, gpu_backends
from fcnn_cli.devices import DEVICES
from fcnn_cli.errors import UsageError

ACTIVATIONS = ("relu", "sigmoid", "tanh")
DTYPES = ("float32", "float64")
TASKS = ("classify", "logreg", "autoencoder")
# What a run returns to a sweeper (see train.objective).
OBJECTIVES = ("auto", "val_acc", "val_loss", "probe_val_acc")
# scikit-learn's random_state (and numpy's legacy RandomState) take seeds below 2**32.
MAX_SEED = 2**32 - 1
# Far beyond any real run, and within what every backend's integer arithmetic takes.
MAX_COUNT = 2**31 - 1


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer, with scikit-learn MLPClassifier's meanings (see fcnn_cli.optim)."""

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
    #: the run directory this run resumes (fcnn_cli.resume), None for a new run
    resume: str | None = None


def _number(cfg: Any, key: str, default: Any = None, prefix: str = "") -> Any:
    """cfg[key] as a finite number; errors name the setting as prefix + key."""
    value = cfg.get(key, default) if hasattr(cfg, "get") else default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(prefix + key, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise UsageError(prefix + key, f"must be a finite number, got {value!r}")
    return value


def _integer(cfg: Any, key: str, minimum: int, default: Any = None, maximum: int = MAX_COUNT) -> int:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise UsageError(key, f"must be an integer from {minimum} to {maximum}, got {value!r}")
    return value


def _boolean(cfg: Any, key: str, default: bool, prefix: str = "") -> bool:
    """Only true or false: `plot=no` or `progress=1` would otherwise read as true."""
    value = cfg.get(key, default) if hasattr(cfg, "get") else default
    if not isinstance(value, bool):
        raise UsageError(prefix + key, f"must be true or false, got {value!r}")
    return value


def _choice(value: Any, key: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(key, f"must be one of {', '.join(allowed)}; got {value!r}")
    return value


def parse_struct(value: Any) -> tuple[int, ...]:
    """`struct` as a tuple of positive layer sizes; [] (softmax regression) is allowed."""
    if value is None:
        value = []
    if isinstance(value, str | int | float) or not hasattr(value, "__iter__"):
        raise UsageError("struct", f"must be a list of positive integers such as [500,250]; got {value!r}")
    sizes = list(value)
    for i, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UsageError(
                f"struct[{i}]", f"hidden layer sizes must be positive integers; got {size!r}"
            )
    return tuple(sizes)


def parse_classes(value: Any, key: str) -> tuple[int, ...] | None:
    """A list of distinct class labels (integers >= 0), or None for all classes."""
    if value is None:
        return None
    if isinstance(value, str | int | float) or not hasattr(value, "__iter__"):
        raise UsageError(key, f"must be a list of distinct class labels such as [3,8]; got {value!r}")
    labels = list(value)
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise UsageError(key, f"class labels are integers >= 0; got {label!r}")
    if not labels:
        raise UsageError(key, "must name at least one class, e.g. [3,8]; null keeps them all")
    repeated = sorted({c for c in labels if labels.count(c) > 1})
    if repeated:
        raise UsageError(key, f"must name distinct classes; {', '.join(map(str, repeated))} "
                              f"appears twice in {labels}")
    return tuple(labels)


def parse_probe(cfg: Any) -> ProbeSettings | None:
    """The `probe` block: None when probe.layer is null (no probe)."""
    cfg = cfg or {}
    layer = cfg.get("layer")
    if layer is None:
        return None
    if layer != "code" and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 1):
        raise UsageError("probe.layer", f"must be a hidden layer number >= 1 or code; got {layer!r}")
    classes = parse_classes(cfg.get("classes", [3, 8]), "probe.classes")
    if classes is None or len(classes) != 2:
        raise UsageError("probe.classes", f"the probe's logistic regression separates two classes, "
                                          f"e.g. [3,8]; got {None if classes is None else list(classes)}")
    try:
        probe = ProbeSettings(
            layer=layer, classes=classes,
            lr=float(_number(cfg, "lr", 0.1)),
            annealing=float(_number(cfg, "annealing", 1.0)),
            max_epochs=_integer(cfg, "max_epochs", 1, 20),
            batch_size=_integer(cfg, "batch_size", 1, 32),
        )
    except UsageError as err:  # the same checks as the run's own keys, named probe.KEY
        raise UsageError(f"probe.{err.key}", str(err).split(": ", 1)[1]) from None
    if not probe.lr > 0 or not math.isfinite(probe.lr):
        raise UsageError("probe.lr", f"must be a finite number > 0, got {probe.lr}")
    if not 0.0 < probe.annealing <= 1.0:
        raise UsageError("probe.annealing", f"must be in (0, 1], got {probe.annealing}")
    return probe


def _optimizer(cfg: Any, backend: str) -> OptimizerSettings:
    opt = cfg.get("optimizer") or {}
    # The optimizers this backend supports, as declared in its registry entry.
    name = _choice(opt.get("name", "sgd"), "optimizer", REGISTRY[backend].optimizers)
    settings = OptimizerSettings(
        name=name,
        momentum=float(_number(opt, "momentum", 0.0, "optimizer.")),
        nesterov=_boolean(opt, "nesterov", False, "optimizer."),
        alpha=float(_number(opt, "alpha", 0.0, "optimizer.")),
        beta1=float(_number(opt, "beta1", 0.9, "optimizer.")),
        beta2=float(_number(opt, "beta2", 0.999, "optimizer.")),
        epsilon=float(_number(opt, "epsilon", 1e-8, "optimizer.")),
    )
    if not 0.0 <= settings.momentum < 1.0:
        raise UsageError("optimizer.momentum", f"must be in [0, 1), got {settings.momentum}")
    if settings.alpha < 0:
        raise UsageError("optimizer.alpha", f"must be >= 0, got {settings.alpha}")
    for key in ("beta1", "beta2"):
        if not 0.0 <= getattr(settings, key) < 1.0:
            raise UsageError(f"optimizer.{key}", f"must be in [0, 1), got {getattr(settings, key)}")
    if settings.epsilon <= 0:
        raise UsageError("optimizer.epsilon", f"must be > 0, got {settings.epsilon}")
    return settings


def check_device(device: Any, backend: Any) -> str:
    """`device` checked against `backend`: gpu needs a GPU backend and a GPU JAX can see."""
    device = _choice(device, "device", DEVICES)
    if device == "gpu" and not REGISTRY[backend].gpu:
        raise UsageError(
            "device",
            f"backend={backend} runs on the CPU only; device=gpu needs backend="
            f"{' or '.join(gpu_backends())} (allowed with backend={backend}: cpu, auto)",
        )
    if device == "gpu":
        from fcnn_cli.devices import gpu_devices, gpu_missing_message

        if not gpu_devices():
            raise UsageError("device", gpu_missing_message())
    return device


def from_config(cfg: Any, data_shape: Any = None) -> Settings:
    """Check a composed Hydra config (or any mapping of the same shape) and return Settings.

    `data_shape` (a `datasets.Shape`) describes training data given as arrays (FCNNClassifier):
    it takes the place of the `dataset` block, whose name is then `datasets.IN_MEMORY`.
    """
    backend_cfg = cfg.get("backend") or {}
    dataset_cfg = cfg.get("dataset") or {}
    device_cfg = cfg.get("device") or {}
    from fcnn_cli.datasets import DATASETS, IN_MEMORY

    backend = _choice(backend_cfg.get("name"), "backend.name", tuple(REGISTRY))
    if data_shape is None:
        dataset = _choice(dataset_cfg.get("name"), "dataset.name", DATASETS)
    else:
        dataset, dataset_cfg = IN_MEMORY, {}
    dataset_path = dataset_cfg.get("path")
    if dataset_path is not None and (not isinstance(dataset_path, str) or not dataset_path.strip()):
        raise UsageError("dataset.path", f"must be a directory name, or null for the default; "
                                         f"got {dataset_path!r}")
    lr = float(_number(cfg, "lr"))
    if not lr > 0 or not math.isfinite(lr):
        raise UsageError("lr", f"must be a finite number > 0, got {lr}")
    annealing = float(_number(cfg, "annealing", 1.0))
    if not 0.0 < annealing <= 1.0:
        raise UsageError("annealing", f"must be in (0, 1], got {annealing}")
    init_range = float(_number(cfg, "init_range", 1.0))
    if not init_range > 0 or not math.isfinite(init_range):
        raise UsageError("init_range", f"must be a finite number > 0, got {init_range}")
    val_fraction = float(_number(cfg, "val_fraction", 0.0))
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError("val_fraction", f"must be in [0, 1), got {val_fraction}")
    seed = _integer(cfg, "seed", 0, 1, maximum=MAX_SEED)
    optimizer = _optimizer(cfg, backend)
    task = _choice((cfg.get("task") or {}).get("name", "classify"), "task", TASKS)
    struct = parse_struct(cfg.get("struct"))
    batch_size = _integer(cfg, "batch_size", 1)
    if backend == "sklearn" and task == "logreg":
        # scikit-learn's logistic regression by SGD (SGDClassifier) steps after every sample,
        # with a constant rate per epoch and no momentum.
        if batch_size != 1:
            raise UsageError("batch_size", "backend=sklearn with task=logreg trains scikit-learn's "
                                           "SGDClassifier, which updates after every sample: "
                                           f"batch_size must be 1; got {batch_size}")
        if optimizer.name != "sgd" or optimizer.momentum:
            raise UsageError("optimizer", "backend=sklearn with task=logreg trains scikit-learn's "
                                          "SGDClassifier: plain SGD (momentum 0), alpha allowed")
    probe = parse_probe(cfg.get("probe"))
    objective = _choice(cfg.get("objective", "auto"), "objective", OBJECTIVES)
    if objective == "probe_val_acc" and probe is None:
        raise UsageError("objective", "objective=probe_val_acc needs a probe: set probe.layer "
                                      "(a hidden layer number, or code)")
    resume = cfg.get("resume")
    if resume is not None and (not isinstance(resume, str) or not resume.strip()):
        raise UsageError("resume", f"must be the directory of a run to resume, or null; got "
                                   f"{resume!r}")
    settings = Settings(
        backend=backend,
        dataset=dataset,
        dataset_path=dataset_path,
        struct=struct,
        activation=_choice(cfg.get("activation", "relu"), "activation", ACTIVATIONS),
        init_range=init_range,
        lr=lr,
        annealing=annealing,
        max_epochs=_integer(cfg, "max_epochs", 1),
        batch_size=batch_size,
        seed=seed,
        dtype=_choice(cfg.get("dtype", "float32"), "dtype", DTYPES),
        device=check_device(device_cfg.get("name", "cpu"), backend),
        val_fraction=val_fraction,
        optimizer=optimizer,
        progress=_boolean(cfg, "progress", False),
        plot=_boolean(cfg, "plot", True),
        backend_options={k: v for k, v in dict(backend_cfg).items() if k != "name"},
        task=task,
        classes=parse_classes(dataset_cfg.get("classes"), "dataset.classes"),
        probe=probe,
        objective=objective,
        resume=resume,
    )
    check_memory(settings, data_shape)
    return settings


def check_memory(settings: Settings, shape: Any = None) -> None:
    """Refuse a net that cannot fit in this machine's memory, before anything is allocated.

    `shape`: the data's size (a `datasets.Shape`); by default the named dataset's."""
    from fcnn_cli import memory
    from fcnn_cli.backends import backend_class
    from fcnn_cli.datasets import SHAPES

    shape = shape or SHAPES[settings.dataset]
    memory.check_fits(settings, shape.n_train, shape.n_test, shape.n_features, shape.n_classes,
                      backend_class(settings.backend).eval_rows)
