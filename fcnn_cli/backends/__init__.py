"""Backends: thin adapters that train one epoch, score a split and hand back their weights.

Each backend is declared once here, with what it supports; settings validation and `fcnn bench`
read these declarations, never a list of their own. Backend modules are imported lazily by name
so that `fcnn --help` and config validation never pay for jax or scikit-learn.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend
    from fcnn_cli.datasets import Dataset
    from fcnn_cli.settings import Settings


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives ("module:Class", imported on first use) and what it supports."""

    target: str
    #: optimizer names (`optimizer=...`); each supports momentum, nesterov and alpha as settings
    optimizers: tuple[str, ...] = ("sgd", "adam")
    #: runs on a GPU with device=gpu|auto
    gpu: bool = False


# A new backend is one entry here and one YAML in conf/backend/.
REGISTRY: dict[str, BackendSpec] = {
    "numpy": BackendSpec("fcnn_cli.backends.numpy_backend:NumpyBackend"),
    "jax": BackendSpec("fcnn_cli.backends.jax_backend:JaxBackend", gpu=True),
    "jax-grad": BackendSpec("fcnn_cli.backends.jax_grad_backend:JaxGradBackend", gpu=True),
    "sklearn": BackendSpec("fcnn_cli.backends.sklearn_backend:SklearnBackend"),
}


def backend_class(name: str) -> type[Backend]:
    """The class of the backend registered as `name` (its module is light: no jax, no sklearn)."""
    module_name, class_name = REGISTRY[name].target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def gpu_backends() -> tuple[str, ...]:
    """The backends that can run on a GPU."""
    return tuple(name for name, spec in REGISTRY.items() if spec.gpu)


def create(settings: Settings, data: Dataset) -> Backend:
    """Build the backend named by `settings.backend` for `data`."""
    return backend_class(settings.backend)(settings, data)
