"""Shared test helpers: the CLI as a real subprocess, isolated data and output directories."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_fcnn(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300,
             ) -> subprocess.CompletedProcess:
    """Run `fcnn ARGS` as a user would, in a subprocess; returns the completed process."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fcnn_cli", *args], cwd=cwd or REPO, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """The CLI refused: exit status 2, one line on stderr holding every fragment, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every file below `root` with a digest of its bytes (to prove nothing was changed)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def fcnn():
    return run_fcnn


# Small, fast settings for end-to-end runs on the embedded digits dataset.
DIGITS_FAST = ("dataset=digits", "struct=[32]", "max_epochs=3", "batch_size=16", "progress=false")
# The same on the numpy backend, which starts fastest (no JIT compilation).
NUMPY_FAST = ("backend=numpy", *DIGITS_FAST)


# A trained digits run per backend, with a validation split, shared by the tests of `fcnn evaluate`,
# `fcnn predict` and FCNNClassifier (each trains once per test session, on first use).
DIGITS_RUN = ("dataset=digits", "struct=[32]", "max_epochs=3", "batch_size=16", "val_fraction=0.2",
              "progress=false", "plot=false")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """backend -> the directory of a finished `fcnn train backend=BACKEND *DIGITS_RUN` run."""
    made: dict[str, Path] = {}

    def get(backend: str) -> Path:
        if backend not in made:
            run_dir = tmp_path_factory.mktemp("runs") / backend
            result = run_fcnn("train", f"backend={backend}", *DIGITS_RUN, f"hydra.run.dir={run_dir}")
            assert result.returncode == 0, result.stderr
            made[backend] = run_dir
        return made[backend]

    return get


class Result:
    """What a command run in this process left: its exit status and output."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def fcnn_here(capsys):
    """`fcnn ARGS` run in this process (the same dispatcher, without a new interpreter's start-up
    of scikit-learn and matplotlib): a result like run_fcnn's. For the plain commands only
    (evaluate, predict, report, ...): Hydra apps keep global state in the process."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        from fcnn_cli import cli

        try:
            cli.main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run
