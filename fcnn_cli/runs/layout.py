"""Run directories on disk: the names of their files, holding one while it trains, recording a
failure, and reading a run back (claiming a fresh one: fcnn_cli.runs.claim).

The one module that knows the layout; `fcnn train` writes through it, `fcnn report` and the sweep
summary read through it. A run directory holds

    .hydra/          Hydra's record of the composed config and the command-line overrides
    metrics.json     written last: its presence marks a run that ended (completed, diverged,
                     interrupted, failed)
    curves.csv       one row per epoch
    curves.png       the lab's figure
    model.npz        the trained weights
    reconstructions.png   an autoencoder's test images beside their reconstructions
    probe_curves.csv      a probe's logistic regression, one row per epoch
    checkpoint.npz   the state after the last epoch, to resume from (fcnn_cli.training.checkpoint)
    eval*.json, eval*-*.png   what `fcnn evaluate` wrote (never a training file's name)

A directory that `FCNNClassifier.save` wrote holds model.npz and estimator.json (the estimator's
parameters) and nothing else.

Light on purpose (no numpy, no Hydra at import): the Hydra callbacks load it on every start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcnn_cli.errors import UsageError
from fcnn_cli.runs.record import write_json

METRICS = "metrics.json"
CURVES = "curves.csv"
PLOT = "curves.png"
MODEL = "model.npz"
RECONSTRUCTIONS = "reconstructions.png"
PROBE_CURVES = "probe_curves.csv"
CHECKPOINT = "checkpoint.npz"
# What training writes into a run directory: nothing else ever writes over these.
TRAINING_FILES = (METRICS, CURVES, PLOT, MODEL, RECONSTRUCTIONS, PROBE_CURVES, CHECKPOINT, "train.log")
# `fcnn evaluate`: <stem>.json and <stem>-<figure>.png, the stem starting with EVAL.
EVAL = "eval"
EVAL_FIGURES = ("confusion", "mistakes", "reconstructions")
# FCNNClassifier.save: the estimator's parameters beside model.npz.
ESTIMATOR = "estimator.json"
BENCH = "bench.json"  # what `fcnn bench` writes last: a finished bench
HYDRA_SUBDIR = ".hydra"
CONFIG = f"{HYDRA_SUBDIR}/config.yaml"
OVERRIDES = f"{HYDRA_SUBDIR}/overrides.yaml"
# Written by Hydra's sweepers into a sweep's root directory.
SWEEP_CONFIG = "multirun.yaml"
# Hydra's and submitit's bookkeeping directories never hold runs.
BOOKKEEPING = (HYDRA_SUBDIR, ".submitit")

# metrics.json "status" values; a directory without metrics.json is "unfinished".
COMPLETED, DIVERGED, FAILED, UNFINISHED = "completed", "diverged", "failed", "unfinished"
# Stopped by a signal after an epoch, with its results so far; `fcnn train resume=DIR` goes on.
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunDir:
    """One run's directory and the paths of its files."""

    path: Path

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def curves(self) -> Path:
        return self.path / CURVES

    @property
    def plot(self) -> Path:
        return self.path / PLOT

    @property
    def model(self) -> Path:
        return self.path / MODEL

    @property
    def reconstructions(self) -> Path:
        return self.path / RECONSTRUCTIONS

    @property
    def probe_curves(self) -> Path:
        return self.path / PROBE_CURVES

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def overrides(self) -> Path:
        return self.path / OVERRIDES

    @property
    def estimator(self) -> Path:
        return self.path / ESTIMATOR

    def eval_json(self, stem: str) -> Path:
        return self.path / f"{stem}.json"

    def eval_figure(self, stem: str, figure: str) -> Path:
        return self.path / f"{stem}-{figure}.png"

    def free_eval_stem(self, base: str) -> str:
        """`base` (eval, eval-train, ...), or base-2, base-3, ... when an earlier `fcnn
        evaluate` left files under that name: an evaluation never overwrites one."""
        stem, n = base, 1
        while self.eval_json(stem).exists() or any(
                self.eval_figure(stem, f).exists() for f in EVAL_FIGURES):
            n += 1
            stem = f"{base}-{n}"
        return stem

    def check_model(self) -> None:
        """Refuse (UsageError, one line) a directory without a trained model to use: a run that
        has not finished or that failed, or a directory without model.npz."""
        status = self.status() if self.is_run() else None
        if status == UNFINISHED:
            raise UsageError("RUN_DIR", f"{self.path}: the run has not finished (no {METRICS} "
                                        "yet); use it when it has")
        if status == FAILED:
            raise UsageError("RUN_DIR", f"{self.path}: the run failed ({self.failure() or 'no reason'})"
                                        "; there is no trained model")
        if not self.model.is_file():
            raise UsageError("RUN_DIR", f"{self.path}: no {MODEL} (not a run directory, or a run "
                                        "from before models were saved)")

    def read_model(self) -> Any:
        """model.npz, checked (a `model_file.SavedModel`). A file from before the format
        recorded the input scaling, image shape, dataset and classes gets them from the run's
        config. Raises model_file.ModelFormatError (a ValueError) with a one-line reason."""
        from fcnn_cli.runs import model_file

        model = model_file.read_model(self.model)
        if model.input_divisor is None:  # written before format version 1
            from fcnn_cli.data.dataset import SHAPES

            config = self.read_config()
            dataset = (config.get("dataset") or {}) if isinstance(config, dict) else {}
            shape = SHAPES.get(str(dataset.get("name")))
            if shape is not None and shape.n_features == model.n_features:
                model.input_divisor, model.image_shape = shape.divisor, shape.image
                model.dataset = str(dataset.get("name"))
            classes = dataset.get("classes")
            if isinstance(classes, list) and len(classes) == model.n_classes:
                import numpy as np

                model.classes = np.asarray(classes)
        return model

    def read_estimator(self) -> dict[str, Any] | None:
        """The estimator's parameters FCNNClassifier.save wrote; None when absent or damaged."""
        try:
            data = json.loads(self.estimator.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def is_run(self) -> bool:
        """Whether Hydra started a run here (or a run's metrics are here)."""
        return self.config.is_file() or self.metrics.is_file()

    def read_metrics(self) -> dict[str, Any] | None:
        """metrics.json as a dict; None when it is missing or cannot be read as a JSON object."""
        try:
            data = json.loads(self.metrics.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def status(self) -> str:
        """completed, diverged, interrupted or failed from metrics.json; failed when it is
        unreadable; unfinished when there is none (still running, or the process died)."""
        if not self.metrics.is_file():
            return UNFINISHED
        metrics = self.read_metrics()
        return str(metrics.get("status", FAILED)) if metrics is not None else FAILED

    def failure(self) -> str | None:
        """The one-line reason a failed run gives, if any."""
        metrics = self.read_metrics()
        if metrics is None:
            return f"unreadable {METRICS}" if self.metrics.is_file() else None
        error = metrics.get("error")
        return None if error is None else str(error)

    def read_config(self) -> Any:
        """The composed config Hydra saved (a dict), or None when missing or damaged."""
        return load_yaml(self.config)

    def read_overrides(self) -> list[str]:
        """The command-line overrides of this run (for a sweep job: its own values)."""
        overrides = load_yaml(self.overrides)
        return [str(o) for o in overrides] if isinstance(overrides, list) else []

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """metrics.json, atomically; written last, it marks the run as ended."""
        write_json(self.metrics, metrics)

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Hold this run directory while one process trains in it: an exclusive flock on the
        directory itself, which the system releases when the process ends, however it ends.
        Yields False (holding nothing) when another process holds it; True also where the file
        system has no flock (nothing to check against there)."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            except OSError:
                pass  # no flock on this file system
            yield True
        finally:
            os.close(fd)

    def record_failure(self, kind: str, reason: str) -> None:
        """Mark this run failed: `kind` is refused (bad input), error (an exception) or killed
        (the process died); `reason` is one line. Results already written are kept."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_metrics({"status": FAILED, "failure": kind, "error": " ".join(reason.split())})


def load_yaml(path: Path) -> Any:
    """A YAML file's content; None when it is missing or damaged (never an exception)."""
    import yaml  # PyYAML, a dependency of omegaconf

    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except Exception:  # noqa: BLE001 - a missing or damaged file reads as nothing, never a crash
        return None


# --- finding runs -------------------------------------------------------------------------------

def natural_key(path: Path | str) -> list[Any]:
    """Sort sweep subdirectories 0, 1, 2, ..., 10 rather than 0, 1, 10, 2."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_runs(directory: Path) -> list[Path]:
    """Every run directory at or below `directory`, in natural order."""
    found = []
    for root, dirs, _files in os.walk(directory):
        if RunDir(Path(root)).is_run():
            found.append(Path(root))
        dirs[:] = [d for d in dirs if d not in BOOKKEEPING]
    return sorted(found, key=natural_key)


