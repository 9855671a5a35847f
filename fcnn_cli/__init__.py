"""fcnn: a command-line experiment runner for fully connected neural networks.

`from fcnn_cli import FCNNClassifier` gives the scikit-learn estimator; it is imported on first
use, so `import fcnn_cli` (and `fcnn --help`) stay light.
"""

from __future__ import annotations

from typing import Any

from fcnn_cli._version import __version__

__all__ = ["FCNNClassifier", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "FCNNClassifier":
        from fcnn_cli.estimator import FCNNClassifier

        return FCNNClassifier
    raise AttributeError(f"module 'fcnn_cli' has no attribute {name!r}")
