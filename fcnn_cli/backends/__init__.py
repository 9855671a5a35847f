"""Backends: thin adapters that train one epoch, score a split and hand back their weights.

Imported lazily by name so that `fcnn --help` never pays for jax or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend
    from fcnn_cli.datasets import Dataset
    from fcnn_cli.settings import Settings

# name -> "module:Class"; a new backend is one line here and one YAML in conf/backend/.
REGISTRY: dict[str, str] = {
    "numpy": "fcnn_cli.backends.numpy_backend:NumpyBackend",
    "jax": "fcnn_cli.backends.jax_backend:JaxBackend",
    "jax-grad": "fcnn_cli.backends.jax_grad_backend:JaxGradBackend",
    "sklearn": "fcnn_cli.backends.sklearn_backend:SklearnBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The class of the backend registered as `name` (its module is light: no jax, no sklearn)."""
    module_name, class_name = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create(settings: Settings, data: Dataset) -> Backend:
    """Build the backend named by `settings.backend` for `data`."""
    return backend_class(settings.backend)(settings, data)
