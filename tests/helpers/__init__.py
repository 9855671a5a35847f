"""The suite's plain helpers (no fixtures: those, and pytest's hooks, are in tests/conftest.py).
Test files import them with `from helpers import ...`: pytest puts tests/ on sys.path
(`pythonpath` in pyproject.toml's [tool.pytest.ini_options]).

    helpers.commands        fcnn in a subprocess (run_fcnn, run_fcnn_together, popen_fcnn,
                            interrupt_at_checkpoint) or a single fcnn train in this process
                            (train_here), its output checked (train_output,
                            assert_refused), fast digits settings (DIGITS_FAST, NUMPY_FAST)
    helpers.run_files       a run's files: read_metrics, snapshot
    helpers.idx             MNIST-format IDX files for the data tests: write_idx_dir
    helpers.paths           REPO
    helpers.resume          bitwise resume from every epoch's checkpoint, in process
    helpers.sklearn_oracle  scikit-learn's MLPClassifier.fit, the sklearn backend's oracle
    helpers.gradcheck       central finite differences, for every gradient test
    helpers.agreement       two trainings' weights equal to float64's rounding (backends agree)

The first four are re-exported here; the last four import numpy or fcnn_cli's backends, so
they are imported from their modules."""

from helpers.commands import (
    DIGITS_FAST,
    DIGITS_RUN,
    NUMPY_FAST,
    Result,
    assert_refused,
    interrupt_at_checkpoint,
    popen_fcnn,
    run_fcnn,
    run_fcnn_together,
    train_here,
    train_output,
)
from helpers.idx import write_idx_dir
from helpers.paths import REPO
from helpers.run_files import read_metrics, snapshot

__all__ = ["DIGITS_FAST", "DIGITS_RUN", "NUMPY_FAST", "REPO", "Result", "assert_refused",
           "interrupt_at_checkpoint", "popen_fcnn", "read_metrics", "run_fcnn", "run_fcnn_together",
           "snapshot", "train_here", "train_output", "write_idx_dir"]
