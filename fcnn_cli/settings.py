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


def _number(cfg: Any, key: str, default: Any = None) -> Any:
    value = cfg.get(key, default) if hasattr(cfg, "get") else default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(key, f"must be a number, got {value!r}")
    return value


def _integer(cfg: Any, key: str, minimum: int, default: Any = None) -> int:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(key, f"must be an integer >= {minimum}, got {value!r}")
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


def _optimizer(cfg: Any, backend: str) -> OptimizerSettings:
    opt = cfg.get("optimizer") or {}
    # The optimizers this backend supports, as declared in its registry entry.
    name = _choice(opt.get("name", "sgd"), "optimizer", REGISTRY[backend].optimizers)
    settings = OptimizerSettings(
        name=name,
        momentum=float(_number(opt, "momentum", 0.0)),
        nesterov=bool(opt.get("nesterov", False)),
        alpha=float(_number(opt, "alpha", 0.0)),
        beta1=float(_number(opt, "beta1", 0.9)),
        beta2=float(_number(opt, "beta2", 0.999)),
        epsilon=float(_number(opt, "epsilon", 1e-8)),
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


def from_config(cfg: Any) -> Settings:
    """Check a composed Hydra config (or any mapping of the same shape) and return Settings."""
    backend_cfg = cfg.get("backend") or {}
    dataset_cfg = cfg.get("dataset") or {}
    device_cfg = cfg.get("device") or {}
    backend = _choice(backend_cfg.get("name"), "backend", tuple(REGISTRY))
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
    seed = cfg.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError("seed", f"must be an integer >= 0, got {seed!r}")
    optimizer = _optimizer(cfg, backend)
    return Settings(
        backend=str(backend),
        dataset=str(dataset_cfg.get("name")),
        dataset_path=dataset_cfg.get("path"),
        struct=parse_struct(cfg.get("struct")),
        activation=_choice(cfg.get("activation", "relu"), "activation", ACTIVATIONS),
        init_range=init_range,
        lr=lr,
        annealing=annealing,
        max_epochs=_integer(cfg, "max_epochs", 1),
        batch_size=_integer(cfg, "batch_size", 1),
        seed=seed,
        dtype=_choice(cfg.get("dtype", "float32"), "dtype", DTYPES),
        device=check_device(device_cfg.get("name", "cpu"), backend),
        val_fraction=val_fraction,
        optimizer=optimizer,
        progress=bool(cfg.get("progress", False)),
        plot=bool(cfg.get("plot", True)),
        backend_options={k: v for k, v in dict(backend_cfg).items() if k != "name"},
    )
