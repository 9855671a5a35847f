"""fcnn from Python: `fcnn train` and `fcnn train -m` in this process, with the CLI's semantics,
and the runs they leave as Python objects (metrics, curves as DataFrames, models, figures).

    import fcnn_cli
    run = fcnn_cli.train("experiment=ex5_2", "dataset=digits")
    run.metrics["test_acc"], run.curves, run.plot()
    runs = fcnn_cli.sweep("dataset=digits", "lr=0.05,0.1")
    runs.table()

`train` and `sweep` run the CLI's own Hydra app (fcnn_cli.hydra_app.app.run): the same
composition (experiments, groups, `resume=`), checks, directories and files, the same lines on
stdout and stderr. Each call leaves the process as it found it (signal handlers, sys.argv, the
working directory, Hydra's global state, logging's handlers and levels, warnings.showwarning), so
a script or a notebook may call them any number of times, one at a time.

Errors: bad input is a `ConfigError` (a ValueError) whose message is the CLI's one line; a sweep
with failed or stopped jobs raises `SweepFailed` carrying its `Runs`; Ctrl-C (a notebook's
"interrupt the kernel") stops after the current epoch, as on the command line, keeps the run
resumable and raises `Interrupted` (a KeyboardInterrupt) carrying the `Run`; a fault of the
machine while writing (full disk, read-only file system) is an OSError with the CLI's line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from fcnn_cli.data.dataset import Dataset
    from fcnn_cli.estimator import FCNNClassifier
    from fcnn_cli.hydra_app.app import Outcome

PathLike = str | os.PathLike


class ConfigError(ValueError):
    """Bad input to `train`, `sweep`, `load_dataset` or a table: the message is the line `fcnn`
    prints after `fcnn: error: ` (the setting, what is wrong, what is allowed); `key` names the
    setting ('' when the line names it itself). Nothing was trained and no directory is left."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class SweepFailed(RuntimeError):
    """A sweep in which some job failed or was stopped (`fcnn train -m` exits 1). `runs` holds
    every job, the failed ones too: `runs.table()` has their status and error."""

    def __init__(self, message: str, runs: Runs | None) -> None:
        super().__init__(message)
        self.runs = runs


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped `train` or `sweep` after the current epoch; what was trained is
    kept. `run` (train) or `runs` (sweep) is what it left (None when nothing was saved: stopped
    before the first epoch ended); the message says how to go on."""

    def __init__(self, message: str, run: Run | None = None, runs: Runs | None = None) -> None:
        super().__init__(message)
        self.run = run
        self.runs = runs


# --- training and sweeping ----------------------------------------------------------------------

def train(*overrides: str, run_dir: PathLike | None = None) -> Run:
    """Train one model as `fcnn train OVERRIDES` does, in this process; its `Run`.

    `overrides` are the command line's (`"backend=numpy"`, `"struct=[64]"`,
    `"experiment=ex5_2"`, `"resume=outputs/..."`). `run_dir` is the run's directory (made if
    missing; one that holds anything is refused, nothing is overwritten); by default a fresh
    `outputs/DATE/TIME` under the working directory, as on the command line.

    One model always: a recipe that searches (an `hparams_search`, or an experiment that sets
    `hydra.mode: MULTIRUN`) trains its own settings once here; `sweep` runs its search.
    """
    args = _checked("train", overrides)
    args.append("hydra.mode=RUN")
    if run_dir is not None:
        args.append(f"hydra.run.dir={_quoted(Path(run_dir).absolute())}")
    outcome = _run_train(args)
    if outcome.run_dir is None:  # no task ran: not a command line train() sends
        raise RuntimeError("fcnn train ended without a run")
    return Run(outcome.run_dir)


def sweep(*overrides: str, sweep_dir: PathLike | None = None) -> Runs:
    """Run a sweep as `fcnn train -m OVERRIDES` does, in this process; its `Runs`.

    Comma-separated values are swept (`"lr=0.05,0.1"`); the launcher and sweeper are the
    config's (`"hydra/launcher=local"` runs the jobs in parallel worker processes,
    `"hparams_search=optuna"` an Optuna search, `"hydra/launcher=slurm"` SLURM jobs);
    `"resume=SWEEP_DIR"` continues a sweep where it stopped. `sweep_dir` is the sweep's
    directory (new or empty), by default a fresh `outputs/multirun/DATE/TIME`.

    A sweep with a failed or stopped job raises `SweepFailed`, whose `runs` has them all.
    """
    args = ["-m", *_checked("sweep", overrides)]
    if sweep_dir is not None:
        args.append(f"hydra.sweep.dir={_quoted(Path(sweep_dir).absolute())}")
    outcome = _run_train(args)
    if outcome.sweep_dir is None:
        raise RuntimeError("fcnn train -m ended without a sweep")
    return load_runs(outcome.sweep_dir)


def _checked(caller: str, overrides: Sequence[Any]) -> list[str]:
    """The overrides as the command line's arguments; flags and hydra.mode are refused (train
    runs one model, sweep sweeps)."""
    args = []
    for override in overrides:
        if not isinstance(override, str):
            raise TypeError(f"{caller}() takes overrides as strings such as 'lr=0.1'; got "
                            f"{override!r}")
        if override.startswith("-"):
            other = "train() trains one model" if caller == "sweep" else "sweep() sweeps"
            raise ConfigError(f"{override}: {caller}() takes overrides only (KEY=VALUE), not the "
                              f"command line's flags; {other}", override)
        if override.split("=", 1)[0].lstrip("+~") == "hydra.mode":
            raise ConfigError("hydra.mode: set by the call: train() trains one model, sweep() "
                              "sweeps; leave it out", "hydra.mode")
        args.append(override)
    return args


def _quoted(path: Path) -> str:
    """`path` as a quoted value of Hydra's override grammar (no escapes, no interpolation)."""
    text = str(path).replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    return f"'{text}'"


def _run_train(args: list[str]) -> Outcome:
    """`fcnn train ARGS` through the CLI's Hydra app; fcnn's typed errors as this module's."""
    from fcnn_cli import errors
    from fcnn_cli.commands.train import hydra_task
    from fcnn_cli.hydra_app import app
    from fcnn_cli.training.progress import quiet_shell_forks

    quiet_shell_forks()
    with _process_as_found():
        try:
            return app.run("train", hydra_task, "config", args)
        except errors.UsageError as err:
            raise ConfigError(str(err), err.key) from None
        except errors.MachineFault as err:
            raise OSError(str(err)) from None
        except errors.SweepFailed as err:
            outcome = getattr(err, "outcome", None)
            where = outcome.sweep_dir if outcome is not None else None
            runs = _runs_or_none(where)
            raise SweepFailed(
                f"some jobs of the sweep in {where} failed or were stopped: err.runs.table() says "
                f"which and why; continue it with fcnn_cli.sweep('resume={where}')", runs) from None
        except errors.Interrupted as err:
            raise _interrupted(err) from None


def _interrupted(err: Any) -> Interrupted:
    """The API's Interrupted for the CLI's: the run or sweep it left, and how to go on."""
    outcome = getattr(err, "outcome", None)
    if outcome is not None and outcome.run_dir is not None:
        run = Run(outcome.run_dir)
        metrics = run.metrics
        done, planned = metrics.get("epochs_completed"), metrics.get("max_epochs")
        if run.status == "interrupted":
            line = (f"interrupted after {done}/{planned} epochs; resume with "
                    f"fcnn_cli.train({f'resume={run.path}'!r})")
        else:
            line = f"interrupted after {done}/{planned} epochs: the run {run.status}; {run.path}"
        return Interrupted(line, run=run)
    if outcome is not None and outcome.sweep_dir is not None:
        line = err.line.removeprefix("fcnn: ") if err.line else "the sweep was interrupted"
        return Interrupted(f"{line}; continue it with fcnn_cli.sweep("
                           f"{f'resume={outcome.sweep_dir}'!r})", runs=_runs_or_none(outcome.sweep_dir))
    return Interrupted(err.line.removeprefix("fcnn: ") if err.line else "interrupted; nothing was saved")


def _runs_or_none(directory: Path | None) -> Runs | None:
    try:
        return None if directory is None else load_runs(directory)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _process_as_found() -> Iterator[None]:
    """Put back what a run of the Hydra app changes in the process besides its own state (which
    app.run puts back): the logging configuration Hydra applies for the run (root handlers and
    level, its file handler on the run's log, its own loggers' handlers), warnings.showwarning
    and logging.raiseExceptions (fcnn_cli.hydra_app.quiet), the environment variables it sets,
    the working directory and sys.argv. Handlers the run made are closed (the log file too)."""
    root = logging.getLogger()
    loggers = {name: logger for name, logger in root.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}
    saved = {name: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
             for name, logger in loggers.items()}
    root_level, root_handlers = root.level, list(root.handlers)
    handlers_before = {id(h) for h in root_handlers} | {
        id(h) for logger in loggers.values() for h in logger.handlers}
    showwarning, raise_exceptions = warnings.showwarning, logging.raiseExceptions
    environ = {name: os.environ.get(name) for name in ("TF_CPP_MIN_LOG_LEVEL", "HYDRA_FULL_ERROR")}
    cwd, argv = os.getcwd(), list(sys.argv)
    try:
        yield
    finally:
        made: list[logging.Handler] = []
        for name, logger in [("", root), *root.manager.loggerDict.items()]:
            if not isinstance(logger, logging.Logger):
                continue
            new = [h for h in logger.handlers if id(h) not in handlers_before]
            made += new
            if name in saved:
                logger.level, handlers, logger.propagate, logger.disabled = saved[name]
                logger.handlers[:] = handlers
            elif new and name:
                # A logger the run's logging config made (Hydra's own): back to a plain logger.
                logger.handlers[:] = [h for h in logger.handlers if h not in new]
                if not logger.handlers:
                    logger.setLevel(logging.NOTSET)
                    logger.propagate = True
        root.setLevel(root_level)
        root.handlers[:] = root_handlers
        for handler in {id(h): h for h in made}.values():
            handler.close()
        warnings.showwarning, logging.raiseExceptions = showwarning, raise_exceptions
        for name, value in environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if os.getcwd() != cwd:
            os.chdir(cwd)
        sys.argv[:] = argv


# --- runs -----------------------------------------------------------------------------------------

class Run:
    """A run directory of `fcnn train`: what it recorded, as Python objects.

    `path`, `status` (completed, diverged, interrupted, failed, unfinished), `metrics`
    (metrics.json), `config` (the composed config), `curves` (curves.csv as a DataFrame, one row
    per epoch), `model` (the trained net as a fitted FCNNClassifier), `plot()` (the lab's figure).
    """

    def __init__(self, path: PathLike) -> None:
        from fcnn_cli.runs.layout import RunDir

        self.path = Path(path).absolute()
        if not self.path.is_dir():
            raise FileNotFoundError(f"{path}: no such directory")
        self._dir = RunDir(self.path)
        if not self._dir.is_run():
            raise ConfigError(f"{path}: not a run directory (no metrics.json or "
                              ".hydra/config.yaml)")

    @property
    def status(self) -> str:
        return self._dir.status()

    @property
    def metrics(self) -> dict[str, Any]:
        """metrics.json (every score, setting and time the run recorded); {} before it ended."""
        return self._dir.read_metrics() or {}

    @property
    def config(self) -> dict[str, Any]:
        """The config the run was composed with (.hydra/config.yaml); {} when it has none."""
        config = self._dir.read_config()
        return config if isinstance(config, dict) else {}

    @property
    def curves(self) -> Any:
        """curves.csv as a pandas DataFrame indexed by epoch: lr and the task's curves per epoch
        (train_loss is curve C, train_acc A, test_acc B), and the training seconds so far."""
        import pandas as pd  # only when a DataFrame is asked for

        rows = self._curve_rows()
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        frame["epoch"] = frame["epoch"].astype(int)
        return frame.set_index("epoch")

    @cached_property
    def model(self) -> FCNNClassifier:
        """The trained net as a fitted FCNNClassifier (FCNNClassifier.from_run): `predict`,
        `score`, `history_`. Its inputs are the run's raw inputs (MNIST pixels 0..255)."""
        from fcnn_cli.estimator import FCNNClassifier

        return FCNNClassifier.from_run(self.path)

    def plot(self) -> Any:
        """The lab's figure of this run (curves.png's: curve C above, A and B below) as a
        matplotlib Figure; in Jupyter it is shown inline."""
        from fcnn_cli.core.tasks import TASKS
        from fcnn_cli.runs.figures import curves_figure

        rows = self._curve_rows()
        if not rows:
            raise ValueError(f"{self.path} has no curves.csv to plot (status {self.status})")
        task = TASKS.get(str(self.metrics.get("task") or "classify"), TASKS["classify"])
        columns = [c for c in rows[0] if c not in ("epoch", "lr", "seconds")]
        figure = curves_figure(rows, self._title(), columns, task.loss_label)
        _shown_inline(figure)
        return figure

    def _curve_rows(self) -> list[dict[str, float]]:
        from fcnn_cli.runs.curves import read_curves

        return read_curves(self._dir.curves) if self._dir.curves.is_file() else []

    def _title(self) -> str:
        m = self.metrics
        score = (f"test {100 * m['test_acc']:.2f}%" if m.get("test_acc") is not None
                 else f"test loss {m['test_loss']:.4g}" if m.get("test_loss") is not None
                 else self.status)
        return f"{m.get('backend')} on {m.get('dataset')}, struct {m.get('struct')}: {score}"

    def __repr__(self) -> str:
        m = self.metrics
        parts = [repr(_shown_path(self.path)), self.status]
        if m:
            parts.append(f"{m.get('backend')} {m.get('struct')} on {m.get('dataset')}")
            parts.append(f"{m.get('epochs_completed')}/{m.get('max_epochs')} epochs")
            for key in ("test_acc", "test_loss"):
                if isinstance(m.get(key), float):
                    parts.append(f"{key} {m[key]:.4f}")
                    break
        return f"Run({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


class Runs(Sequence[Run]):
    """The runs under one or more directories (a sweep, a tree of runs), in `fcnn report`'s
    order: a sequence of `Run`, with `table()` (fcnn report's table as a DataFrame) and `plot()`
    (report.png's figure)."""

    def __init__(self, directories: Sequence[PathLike]) -> None:
        from fcnn_cli.commands.report.collect import collect_runs

        self.directories = [Path(d).absolute() for d in directories]
        for directory in self.directories:
            if not directory.is_dir():
                raise FileNotFoundError(f"{directory}: no such directory")
        found, _ = collect_runs(self.directories)  # the runs fcnn report finds, in its order
        if not found:
            raise ConfigError(f"no run directories (with .hydra/config.yaml or metrics.json) "
                              f"under {', '.join(map(str, self.directories))}")
        self._runs = [Run(run.path) for run in found]

    @overload
    def __getitem__(self, index: int) -> Run: ...

    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def table(self, group_by: str | None = None, sort: str = "run") -> Any:
        """`fcnn report`'s table as a pandas DataFrame indexed by run: every column report.csv
        has (accuracies as fractions), one column per config key the runs differ in, the status
        and error of each run. `group_by="seed"` folds runs that differ only in that key into
        one row, accuracies as the mean with `<column>_std` beside it, and `n` completed runs.
        `sort`: a column (accuracies best first) or a config key."""
        import argparse

        import pandas as pd  # only when a DataFrame is asked for

        from fcnn_cli.commands import report
        from fcnn_cli.commands.report.collect import collect_runs, sort_runs
        from fcnn_cli.commands.report.groups import AVERAGED, fold, std_key, value_of
        from fcnn_cli.errors import UsageError

        runs, _ = collect_runs(self.directories)
        try:
            options = argparse.Namespace(sort=sort, group_by=group_by, columns=None)
            columns, _ = report.table_columns(options, runs)
        except UsageError as err:
            raise ConfigError(str(err).replace("--sort", "sort"), err.key) from None
        rows = sort_runs(runs, sort)
        if group_by:
            if all(value_of(run, group_by) is None for run in runs):
                raise ConfigError(f"group_by: no run has a config key {group_by!r} (for example "
                                  "seed, lr, backend.name)", "group_by")
            rows = sort_runs(fold(sort_runs(runs, "run"), group_by), sort)
        keys = [key for key, _ in columns]
        if any(std_key(column) in run.row for run in rows for column in AVERAGED):
            keys += [std_key(column) for column in AVERAGED]
        keys += ["max_epochs", "best", "error", "path"]
        records = [{**run.row, "best": run.best, "path": str(run.path)} for run in rows]
        frame = pd.DataFrame([{key: record.get(key) for key in keys} for record in records],
                             columns=keys)
        return frame.set_index("run")

    def plot(self) -> Any:
        """report.png's figure (the runs' curves C, A and B overlaid) as a matplotlib Figure; in
        Jupyter it is shown inline."""
        from fcnn_cli.commands.report.collect import collect_runs
        from fcnn_cli.commands.report.figure import figure

        runs, _ = collect_runs(self.directories)
        with _backend_kept():
            drawn, _ = figure(runs)
        _shown_inline(drawn)
        return drawn

    def __repr__(self) -> str:
        from collections import Counter

        where = ", ".join(repr(_shown_path(d)) for d in self.directories)
        counts = Counter(run.status for run in self._runs)
        states = ", ".join(f"{n} {status}" for status, n in counts.items())
        return f"Runs({len(self)} run{'s' if len(self) != 1 else ''} in {where}: {states})"


def load_run(path: PathLike) -> Run:
    """The run in directory `path` (any run of `fcnn train`, finished or not)."""
    return Run(path)


def load_runs(*directories: PathLike) -> Runs:
    """Every run under `directories` (default: outputs), searched as `fcnn report` does: a
    sweep, several sweeps, a tree of single runs."""
    return Runs(directories or ("outputs",))


def _shown_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextlib.contextmanager
def _backend_kept() -> Iterator[None]:
    """matplotlib's backend as it was after drawing with pyplot-based code that selects Agg
    (report.png's figure): in a notebook, the kernel's inline backend is put back."""
    import matplotlib

    before = matplotlib.get_backend(auto_select=False)
    try:
        yield
    finally:
        after = matplotlib.get_backend(auto_select=False)
        if before is not None and after != before:
            import matplotlib.pyplot as plt

            plt.close("all")  # the figure drawn stays usable, outside pyplot's list
            matplotlib.use(before)


def _shown_inline(figure: Any) -> None:
    """In IPython, make sure a Figure made outside pyplot is shown as an image: IPython's
    matplotlib formatters are registered once pyplot draws a first figure, which a notebook
    that only calls fcnn may never do."""
    shell = _ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    try:
        shell.display_formatter.formatters["image/png"].lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"})


def _ipython() -> Any:
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


# --- data -----------------------------------------------------------------------------------------

#: load_dataset's settings and the config keys they are
DATASET_SETTINGS = {"path": "dataset.path", "classes": "dataset.classes", "dtype": "dtype",
                    "val_fraction": "val_fraction", "seed": "seed"}


def load_dataset(name: str = "mnist", raw: bool = False, **settings: Any) -> Dataset:
    """The data `fcnn train dataset=NAME` trains on, as numpy arrays: `x_train`, `y_train`,
    `x_test`, `y_test` (and `x_val`, `y_val` with `val_fraction`), features scaled to [0, 1]
    (MNIST and Fashion-MNIST: pixel / 255; digits: value / 16) in `dtype`, labels 0..K-1
    (`classes[k]` is class k's own label).

    raw: the features as the files hold them (MNIST pixels 0..255, digits 0..16), in `dtype`:
    what a run's model takes (`Run.model`, `FCNNClassifier.from_run`, `fcnn predict`), which
    scales its inputs itself.

    name: mnist (fetched and verified on first use, then cached, as the CLI does), digits
    (scikit-learn's, offline) or fashion (where installed). settings, as the config keys:
    `path` (dataset.path), `classes` (dataset.classes), `dtype`, `val_fraction` and `seed` (the
    seeded, stratified validation split).
    """
    from fcnn_cli.config.validate import value
    from fcnn_cli.data import datasets
    from fcnn_cli.errors import UsageError

    unknown = sorted(set(settings) - set(DATASET_SETTINGS))
    if unknown:
        raise ConfigError(f"load_dataset: no setting {', '.join(map(repr, unknown))}; it takes "
                          f"{', '.join(DATASET_SETTINGS)}", unknown[0])
    config: dict[str, Any] = {"dataset": {"name": name}}
    for setting, given in settings.items():
        group, _, key = DATASET_SETTINGS[setting].rpartition(".")
        (config.setdefault(group, {}) if group else config)[key] = given
    try:
        checked = {key: value(config, key) for key in ("dataset.name", *DATASET_SETTINGS.values())}
        data = datasets.load(checked["dataset.name"], checked["dataset.path"], checked["dtype"],
                             checked["val_fraction"], checked["seed"], checked["dataset.classes"])
    except UsageError as err:
        raise ConfigError(str(err), err.key) from None
    if raw:
        import numpy as np

        from fcnn_cli.data.dataset import SHAPES

        divisor = SHAPES[data.name].divisor
        for split in ("x_train", "x_val", "x_test"):  # whole numbers in the files: rint is exact
            features = getattr(data, split)
            if features is not None:
                setattr(data, split, np.rint(features * divisor).astype(features.dtype))
    return data
