"""The `fcnn` command run as a user runs it, in a subprocess (run_fcnn; several at once,
run_fcnn_together; popen_fcnn and interrupt_at_checkpoint to signal one mid-run), what it
printed checked (train_output, assert_refused), and the small settings of fast runs on digits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.paths import REPO

# Small, fast settings for end-to-end runs on the embedded digits dataset.
DIGITS_FAST = ("dataset=digits", "struct=[32]", "max_epochs=3", "batch_size=16", "progress=false")
# The same on the numpy backend, which starts fastest (no JIT compilation).
NUMPY_FAST = ("backend=numpy", *DIGITS_FAST)

# A trained digits run per backend, with a validation split, shared by the tests of `fcnn evaluate`,
# `fcnn predict` and FCNNClassifier (the digits_run fixture trains it once per test session).
DIGITS_RUN = ("dataset=digits", "struct=[32]", "max_epochs=3", "batch_size=16", "val_fraction=0.2",
              "progress=false", "plot=false")


def run_fcnn(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300,
             ) -> subprocess.CompletedProcess:
    """Run `fcnn ARGS` as a user would, in a subprocess; returns the completed process."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fcnn_cli", *args], cwd=cwd or REPO, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def train_here(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`fcnn train ARGS` in this process, through the CLI's own entry (`fcnn_cli.cli.main`), its
    output captured: the same lines and exit status as run_fcnn's, without starting Python and
    importing the libraries again. For a single run whose files and lines are under test; where
    a process boundary is (signals, the environment, sweeps' workers), use run_fcnn.

    The process is left as the Python API leaves it (`fcnn_cli.api`): without that, the logging
    Hydra configured for the run stays attached, its file handler on the run's log. A refused
    run's directory is removed, and a later test in the same worker then logs into a file whose
    directory is gone (FileNotFoundError from grimp's logger, or inside a notebook's kernel)."""
    import io

    from fcnn_cli import cli
    from fcnn_cli.api import _process_as_found

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "120"
    try:
        os.chdir(cwd or REPO)
        with _process_as_found(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(["train", *args])
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(before)
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return subprocess.CompletedProcess(["fcnn", "train", *args], code, out.getvalue(), err.getvalue())


def popen_fcnn(*args: str, columns: int | None = None) -> subprocess.Popen:
    """`fcnn ARGS` started as a subprocess (to be signalled), its output captured as text."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.Popen([sys.executable, "-m", "fcnn_cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_at_checkpoint(proc: subprocess.Popen, run_dir: Path, signum: int = signal.SIGINT,
                            keep_signalling: bool = False) -> tuple[int, str, str]:
    """Send `signum` once the run's first checkpoint is on disk; with `keep_signalling`, then
    SIGTERM and SIGINT in turn every 20 ms until it exits (so some arrive while it saves, and
    while it shuts down). Return the exit status and output."""
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.npz").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    proc.send_signal(signum)
    later = [signal.SIGTERM, signal.SIGINT]
    while keep_signalling and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(later[0])
        later.reverse()
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def run_fcnn_together(*commands: tuple[str, ...], cwd: Path | None = None,
                      env: dict | list[dict] | None = None, timeout: float = 600,
                      ) -> list[subprocess.CompletedProcess]:
    """Run several `fcnn ARGS` at once, each as run_fcnn runs one (`env`: one for all, or one per
    command); wait for all and return their completed processes, in order. For module fixtures
    that set up several independent sweeps: their process start-ups overlap."""
    import tempfile

    envs = env if isinstance(env, list) else [env] * len(commands)
    with tempfile.TemporaryDirectory() as logs:
        started = []
        for i, (args, extra) in enumerate(zip(commands, envs, strict=True)):
            out, err = open(f"{logs}/{i}.out", "w+"), open(f"{logs}/{i}.err", "w+")  # noqa: SIM115
            full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120", **(extra or {})}
            proc = subprocess.Popen([sys.executable, "-m", "fcnn_cli", *args], cwd=cwd or REPO,
                                    env=full_env, stdout=out, stderr=err, text=True)
            started.append((args, proc, out, err))
        results = []
        for args, proc, out, err in started:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            with out, err:
                out.seek(0)
                err.seek(0)
                results.append(subprocess.CompletedProcess([sys.executable, "-m", "fcnn_cli", *args],
                                                           proc.returncode, out.read(), err.read()))
    return results


class Result:
    """What a command run in this process left: its exit status and output (the fcnn_here
    fixture's, shaped like run_fcnn's completed process)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def train_output(stdout: str) -> list[str]:
    """The lines `fcnn train` printed, but the closing next step (`next: fcnn evaluate DIR ...`,
    tests/cli/test_next_step.py), which always comes last: for a run, its one result line."""
    lines = stdout.strip().splitlines()
    if lines and lines[-1].startswith("next: fcnn "):
        lines = lines[:-1]
    return lines


def assert_refused(result: subprocess.CompletedProcess | Result, *fragments: str) -> None:
    """The CLI refused: exit status 2, one line on stderr holding every fragment, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
