"""fcnn: a command-line experiment runner for fully connected neural networks, and its Python API.

    import fcnn_cli
    run = fcnn_cli.train("dataset=digits", "max_epochs=10")     # fcnn train ..., in process
    runs = fcnn_cli.sweep("dataset=digits", "lr=0.05,0.1")      # fcnn train -m ...
    from fcnn_cli import FCNNClassifier                         # the scikit-learn estimator

Every name is imported on first use (fcnn_cli.api, fcnn_cli.estimator), so `import fcnn_cli` (and
`fcnn --help`) stay light.
"""

from __future__ import annotations

from typing import Any

from fcnn_cli._version import __version__

#: each public name and the module it lives in, imported when the name is first used
_LAZY = {
    "FCNNClassifier": "fcnn_cli.estimator",
    **{name: "fcnn_cli.api" for name in (
        "train", "sweep", "load_run", "load_runs", "load_dataset", "Run", "Runs", "ConfigError",
        "SweepFailed", "Interrupted")},
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # here, not at the top: `import fcnn_cli` imports nothing more

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fcnn_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
