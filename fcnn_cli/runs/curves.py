"""curves.csv: one row per epoch (epoch, lr, the task's curves, seconds), written atomically."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcnn_cli import atomic

# A classifier's curves between lr and seconds; a task passes its own (fcnn_cli.core.tasks).
DEFAULT_CURVES = ("train_loss", "train_acc", "test_acc", "val_acc")


def curve_columns(rows: Sequence[dict[str, Any]], curves: Sequence[str] = DEFAULT_CURVES) -> list[str]:
    """curves.csv's columns: epoch, lr, the task's `curves`, seconds; val_* only with a val set."""
    has_val = bool(rows) and (rows[0].get("val_acc") is not None or rows[0].get("val_loss") is not None)
    return ["epoch", "lr", *(c for c in curves if has_val or not c.startswith("val_")), "seconds"]


def write_curves(path: Path, rows: Sequence[dict[str, Any]],
                 curves: Sequence[str] = DEFAULT_CURVES) -> None:
    """curves.csv: one row per epoch; a val_* column appears when there is a validation set."""
    columns = curve_columns(rows, curves)
    with atomic.atomic_open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_curves(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
