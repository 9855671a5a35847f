"""Where fcnn finds its config tree and keeps its data."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """The Hydra config tree: inside the installed package, or `conf/` of a source checkout."""
    for candidate in (_PACKAGE / "conf", _PACKAGE.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"fcnn's config tree (config.yaml) is missing next to {_PACKAGE}")


def data_home() -> Path:
    """Per-user data directory: $FCNN_DATA_DIR, else $XDG_CACHE_HOME/fcnn, else ~/.cache/fcnn."""
    if env := os.environ.get("FCNN_DATA_DIR"):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fcnn"


def mnist_dir(path: str | None = None) -> Path:
    """The directory holding the four MNIST IDX files for `dataset.path` (None: the default)."""
    return Path(path).expanduser() if path else data_home() / "mnist"
