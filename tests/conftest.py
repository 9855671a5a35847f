"""The suite's fixtures and pytest hooks, for both rooms, tests/unit (in process) and tests/cli (the
real CLI in a subprocess): `fcnn` and `fcnn_here` (the CLI in a subprocess, or in this process for
the plain commands), trained digits runs shared by a session (digits_run), the real config composed
through Hydra's compose API (compose_config), and the order of the files under pytest-xdist.

Plain helpers (run_fcnn, read_metrics, write_idx_dir, ...) live in tests/helpers/: test files
import them with `from helpers import ...`, never from this file
(tests/unit/test_test_layout.py holds that)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# What this file uses, and (the noqa) what test files imported from it before tests/helpers/
# existed: a test file that still does keeps working until test_test_layout.py names it.
from helpers import (  # noqa: F401
    DIGITS_FAST,
    DIGITS_RUN,
    NUMPY_FAST,
    REPO,
    Result,
    assert_refused,
    interrupt_at_checkpoint,
    popen_fcnn,
    read_metrics,
    run_fcnn,
    run_fcnn_together,
    snapshot,
    train_output,
    write_idx_dir,
)


@pytest.fixture
def fcnn():
    return run_fcnn


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


# --- the order of the files under pytest-xdist (`make test`: -n 3 --dist loadfile) ---------------

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
