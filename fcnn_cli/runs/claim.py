"""Claiming a fresh directory for a new run or sweep, and discarding what a refused run made.

A run never overwrites a finished run or sweep: fcnn's timestamped default takes the first free
`-1`, `-2`, ... suffix; a directory the user named is used only if it is new or empty.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from fcnn_cli.errors import UsageError
from fcnn_cli.runs.layout import (
    BENCH,
    CHECKPOINT,
    HYDRA_SUBDIR,
    INTERRUPTED,
    METRICS,
    SWEEP_CONFIG,
    RunDir,
)


@dataclass
class _Claim:
    """What this process created for a run or sweep directory it claimed."""

    made_dir: bool  # False: the user's own empty directory, which is emptied, never removed
    parents: list[Path]  # missing ancestors created on the way, deepest first


class Claims:
    """The directories one command claimed, so that a refused start removes what it made."""

    def __init__(self) -> None:
        self._claimed: dict[Path, _Claim] = {}

    def claim(self, path: Path, key: str, *, named: bool, marker: str | None = HYDRA_SUBDIR) -> Path:
        """Make `path` this run's (or sweep's) own directory and return it (UsageError, naming
        `key`, when it cannot be had).

        named=False (fcnn's timestamped default): when `path` exists, the first free `path-1`,
        `path-2`, ... is taken instead, by an exclusive mkdir, so two runs started at the same
        moment never share a directory. named=True (a directory the user named): it is used only
        if it is new or empty, else refused; nothing in it is ever overwritten. Two runs racing
        for the same empty directory are told apart by an exclusive mkdir of `marker` inside it.
        """
        made, how = _claim(path, key, named=named, marker=marker)
        self._claimed[made.absolute()] = how
        return made

    def discard(self, path: Path) -> None:
        """Remove what this command created for a run it then refused; nothing else is
        touched. Does nothing for a directory it did not claim."""
        found = self._claimed.pop(Path(path).absolute(), None)
        if found is not None:
            _discard(Path(path), found)

    def discard_unfinished(self) -> None:
        """Discard every directory claimed in which nothing was trained (no metrics.json and no
        checkpoint anywhere below it): a start-up abandoned before training."""
        for path in list(self._claimed):
            trained = any(METRICS in files or CHECKPOINT in files for _, _, files in os.walk(path))
            if not trained:
                self.discard(path)


def _claim(path: Path, key: str, *, named: bool, marker: str | None) -> tuple[Path, _Claim]:
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
            return candidate, _Claim(made_dir=True, parents=parents)
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
    return path, _Claim(made_dir=False, parents=[])


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
    if (path / BENCH).is_file():
        return f"already holds a finished bench ({BENCH})"
    if (path / SWEEP_CONFIG).is_file() or any(RunDir(p).is_run() for p in entries if p.is_dir()):
        return "already holds a sweep"
    if run.is_run():
        return "already holds a run that has not finished"
    return f"is not empty ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'})"


def _discard(path: Path, claimed: _Claim) -> None:
    """Remove what was created for `path` when it was claimed."""
    if claimed.made_dir:
        shutil.rmtree(path, ignore_errors=True)
        _remove_empty(claimed.parents)
        return
    for entry in path.iterdir():  # the user's empty directory: empty again, as it was found
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


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
