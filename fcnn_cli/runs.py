"""Run directories on disk: the names of their files, claiming a fresh one, recording a failure,
and reading a run back.

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
    checkpoint.npz   the state after the last epoch, to resume from (fcnn_cli.checkpoint)
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
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcnn_cli import atomic
from fcnn_cli.errors import UsageError

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
        """model.npz, checked (a `run_outputs.SavedModel`). A file from before the format
        recorded the input scaling, image shape, dataset and classes gets them from the run's
        config. Raises run_outputs.ModelFormatError (a ValueError) with a one-line reason."""
        from fcnn_cli import run_outputs

        model = run_outputs.read_model(self.model)
        if model.input_divisor is None:  # written before format version 1
            from fcnn_cli.datasets import SHAPES

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
        return _load_yaml(self.config)

    def read_overrides(self) -> list[str]:
        """The command-line overrides of this run (for a sweep job: its own values)."""
        overrides = _load_yaml(self.overrides)
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A JSON file, written atomically; numpy scalars and arrays become numbers and lists."""
    atomic.write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _load_yaml(path: Path) -> Any:
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


# --- claiming a directory for a new run or sweep ------------------------------------------------

@dataclass
class _Claim:
    """What this process created for a run or sweep directory it claimed."""

    made_dir: bool  # False: the user's own empty directory, which is emptied, never removed
    parents: list[Path]  # missing ancestors created on the way, deepest first


_claimed: dict[Path, _Claim] = {}


def claim(path: Path, key: str, *, named: bool, marker: str | None = HYDRA_SUBDIR) -> Path:
    """Make `path` this run's (or sweep's) own directory and return it.

    named=False (fcnn's timestamped default): when `path` exists, the first free `path-1`,
    `path-2`, ... is taken instead, by an exclusive mkdir, so two runs started at the same
    moment never share a directory. named=True (a directory the user named): it is used only if
    it is new or empty, else refused; nothing in it is ever overwritten. Two runs racing for the
    same empty directory are told apart by an exclusive mkdir of `marker` inside it.
    """
    if not str(path).strip():
        raise UsageError(key, "is empty; name a new directory, or leave it unset for a fresh one")
    parents = _missing_parents(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(key, f"cannot create {path}: {_reason(err)}") from None
    candidate, suffix = path, 0
    while True:
        try:
            candidate.mkdir()
            _claimed[candidate.absolute()] = _Claim(made_dir=True, parents=parents)
            return candidate
        except FileExistsError:
            if named:
                break
            suffix += 1
            candidate = path.with_name(f"{path.name}-{suffix}")
        except OSError as err:
            _remove_empty(parents)
            raise UsageError(key, f"cannot create {path}: {_reason(err)}") from None
    # A directory the user named, which exists: only an empty one is taken.
    problem = describe_existing(path)
    if problem is None and marker is not None:
        try:
            (path / marker).mkdir()
        except FileExistsError:
            problem = "was just taken by another run"
        except OSError as err:
            raise UsageError(key, f"cannot write to {path}: {_reason(err)}") from None
    if problem is not None:
        raise UsageError(key, f"{path} {problem}; nothing was overwritten: choose a new or empty "
                              "directory")
    _claimed[path.absolute()] = _Claim(made_dir=False, parents=[])
    return path


def describe_existing(path: Path) -> str | None:
    """Why an existing `path` cannot take a new run; None when it is an empty directory."""
    if not path.is_dir():
        return "exists and is not a directory"
    try:
        entries = list(path.iterdir())
    except OSError as err:
        return f"cannot be read ({_reason(err)})"
    if not entries:
        return None
    run = RunDir(path)
    if run.metrics.is_file() and run.status() == INTERRUPTED:
        return f"already holds an interrupted run (to go on with it: fcnn train resume={path})"
    if run.metrics.is_file():
        return f"already holds a finished run ({METRICS}, status {run.status()})"
    if (path / SWEEP_CONFIG).is_file() or any(RunDir(p).is_run() for p in entries if p.is_dir()):
        return "already holds a sweep"
    if run.is_run():
        return "already holds a run that has not finished"
    return f"is not empty ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'})"


def discard(path: Path) -> None:
    """Remove what this process created for a run it then refused; nothing else is touched.

    Does nothing for a directory this process did not claim.
    """
    path = Path(path)
    claimed = _claimed.pop(path.absolute(), None)
    if claimed is None:
        return
    if claimed.made_dir:
        shutil.rmtree(path, ignore_errors=True)
        _remove_empty(claimed.parents)
        return
    for entry in path.iterdir():  # the user's empty directory: empty again, as it was found
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def discard_unfinished() -> None:
    """Discard every directory this process claimed in which nothing was trained (no
    metrics.json and no checkpoint anywhere below it): a start-up abandoned before training."""
    for path in list(_claimed):
        trained = any(METRICS in files or CHECKPOINT in files for _, _, files in os.walk(path))
        if not trained:
            discard(path)


def is_claimed(path: Path) -> bool:
    return Path(path).absolute() in _claimed


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of `path` that do not exist yet, deepest first."""
    missing = []
    for parent in path.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _remove_empty(directories: list[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            break  # not empty (another run lives there now) or gone: stop climbing


def _reason(err: OSError) -> str:
    return err.strerror or str(err)
