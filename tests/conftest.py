"""Shared test helpers for both rooms, tests/unit (in process) and tests/cli (the real CLI in a
subprocess): pytest loads this file for every test below tests/, and puts tests/ on sys.path, so
test files import these with `from conftest import ...`.

The CLI as a real subprocess (run_fcnn; popen_fcnn and interrupt_at_checkpoint to signal one
mid-run) or in this process (fcnn_here, plain commands only), the
real config composed through Hydra's compose API (compose_config), trained digits runs shared by
a session (digits_run), IDX files for data tests (write_idx_dir), and isolated directories."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
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


def train_output(stdout: str) -> list[str]:
    """The lines `fcnn train` printed, but the closing next step (`next: fcnn evaluate DIR ...`,
    tests/cli/test_next_step.py), which always comes last: for a run, its one result line."""
    lines = stdout.strip().splitlines()
    if lines and lines[-1].startswith("next: fcnn "):
        lines = lines[:-1]
    return lines


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
    """backend -> the directory of a finished `fcnn train backend=BACKEND *DIGITS_RUN` run.

    Read-only: a test that writes into a run copies it first. Under pytest-xdist the workers of
    one session share each run (trained once, by whichever worker asks first, under a lock)."""
    import fcntl
    import shutil

    made: dict[str, Path] = {}
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the session's directory, above each worker's
        root = tmp_path_factory.getbasetemp().parent / "digits-runs"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("runs")

    def get(backend: str) -> Path:
        if backend not in made:
            run_dir = root / backend
            with open(root / f"{backend}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not (run_dir / "metrics.json").is_file():
                    shutil.rmtree(run_dir, ignore_errors=True)  # what a failed try left
                    result = run_fcnn("train", f"backend={backend}", *DIGITS_RUN,
                                      f"hydra.run.dir={run_dir}")
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


# --- the order of the files under pytest-xdist (`make test`: -n 2 --dist loadfile) ---------------

# The files whose module fixtures take longest, mostly waiting (a SLURM cluster's clock, sweeps of
# many processes): started first, one per worker, while the other workers work through the rest.
# Left to itself, xdist queues files by their number of tests, largest first, which starts these
# last and leaves one worker waiting on them at the end.
LONGEST_FIRST = ("test_slurm_requeue.py", "test_slurm.py", "test_local_requeue.py",
                 "test_sweep_kills.py", "test_sweep_failures.py", "test_search_continue.py",
                 "test_gpu_check.py", "test_sweeps.py", "test_sweep_continue.py", "test_resume.py",
                 "test_problems.py")


def pytest_configure(config):
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False  # xdist keeps the collection order below


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest as collected


# --- the real config, composed as `fcnn train` composes it ---------------------------------------

@pytest.fixture
def compose_config():
    """compose_config(*overrides, config_name="config") -> the composed DictConfig: conf/config.yaml
    (or conf/bench.yaml with config_name="bench") with the schema's defaults (fcnn_keys) and the
    overrides, through Hydra's compose API, as lightning-hydra-template's tests do. No run
    directory, no subprocess; `return_hydra_config=True` keeps the `hydra` node."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from fcnn_cli.hydra_app.app import register_defaults
    from fcnn_cli.paths import conf_dir

    def compose_(*overrides: str, config_name: str = "config", return_hydra_config: bool = False):
        register_defaults()  # the keys' defaults as the config nodes fcnn_keys and fcnn_bench_keys
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
                return compose(config_name=config_name, overrides=list(overrides),
                               return_hydra_config=return_hydra_config)
        finally:
            GlobalHydra.instance().clear()

    return compose_


# --- IDX files (MNIST's format) for the data tests -----------------------------------------------

def write_idx_dir(directory: Path, n_train: int = 20, n_test: int = 10, gz: bool = False,
                  corrupt: tuple[str, str] | None = None) -> dict:
    """The four MNIST IDX files with small random images, in `directory`; `corrupt`=(kind, name)
    damages one of them: kind "magic" (a wrong magic number), "short" or "long" (data bytes
    missing or extra). Returns the arrays written, by file name."""
    import numpy as np

    from fcnn_cli.data.mnist_fetch import IDX_FILES, idx_bytes

    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        data = idx_bytes(arrays[name])
        if corrupt == ("magic", name):
            data = b"\x00\x00\x08\x04" + data[4:]
        elif corrupt == ("short", name):
            data = data[:-5]
        elif corrupt == ("long", name):
            data = data + b"\x00"
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays
