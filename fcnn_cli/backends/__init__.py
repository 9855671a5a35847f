"""Backends: thin adapters that train one epoch, score a split and hand back their weights.

What each backend supports is declared as data in `fcnn_cli.config.backends`. Backend modules
are imported lazily by name so that `fcnn --help` and config validation never pay for jax or
scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fcnn_cli.config.backends import BACKENDS

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset


def backend_class(name: str) -> type[Backend]:
    """The class of the backend registered as `name`."""
    module_name, class_name = BACKENDS[name].target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create(settings: Settings, data: Dataset) -> Backend:
    """Build the backend named by `settings.backend` for `data`."""
    return backend_class(settings.backend)(settings, data)
