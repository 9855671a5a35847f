"""What a run records about itself besides its results: JSON files written atomically, the
versions of the libraries a result depends on, and its config as flat dotted keys."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from fcnn_cli import atomic


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A JSON file, written atomically; numpy scalars and arrays become numbers and lists."""
    atomic.write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (read from metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("numpy", "jax", "jaxlib", "scikit-learn", "fcnn-cli"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def flat_config(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """A run's config as dotted keys: {"optimizer": {"name": "sgd"}} -> {"optimizer.name": "sgd"}."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat
