"""A quiet terminal for the Hydra apps: what libraries log goes to the run's log file; the
terminal gets warnings and errors only, one line each.

The logging configs that use this are conf/hydra/job_logging/fcnn.yaml (a run's own logging) and
conf/hydra/hydra_logging/fcnn.yaml (Hydra's, around the runs of a sweep).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Any

from hydra.experimental.callback import Callback

# Hydra plugins' INFO lines that restate settings rather than report progress.
HYDRA_NOISE = ("Study name:", "Storage:", "Sampler:", "Directions:")
# The joblib launcher's `Joblib.Parallel(n_jobs=2,backend=loky,...eleven settings...) is launching
# 4 jobs`: what a user reads in it is the number of workers and of jobs.
JOBLIB_LINE = re.compile(r"Joblib\.Parallel\((?P<settings>.*)\) is launching (?P<jobs>\d+) jobs")


def setup() -> None:
    """Before any heavy library loads: no INFO lines from XLA's C++ logging (a level the user
    set stays), and Python warnings as one log record each."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    warnings.showwarning = _log_warning
    # A log file that cannot be written (a full disk) must not print logging's own traceback
    # for every record: the run's own writes report the fault in one line (training.faults).
    logging.raiseExceptions = False


def _log_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    first = (str(message).strip().splitlines() or [""])[0]
    logging.getLogger("py.warnings").warning("%s: %s (%s:%d)", category.__name__, first,
                                             os.path.basename(filename), lineno)


class TerminalFormatter(logging.Formatter):
    """`warning: jax: <the message's first line>`; tracebacks stay in the run's log file."""

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().strip().splitlines() or [""]
        source = "" if record.name == "py.warnings" else record.name.split(".")[0] + ": "
        return f"{record.levelname.lower()}: {source}{lines[0]}"


class DropHydraNoise(logging.Filter):
    """Drops the sweep plugins' lines that restate settings (the Optuna study's storage and
    sampler) and cuts joblib's to its workers and jobs; the launch and job lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage().lstrip()
        if message.startswith(HYDRA_NOISE):
            return False
        if match := JOBLIB_LINE.match(message):
            settings = dict(kv.split("=", 1) for kv in match["settings"].split(",") if "=" in kv)
            record.msg = (f"Joblib.Parallel(n_jobs={settings.get('n_jobs', '?')}) is launching "
                          f"{match['jobs']} jobs")
            record.args = ()
        return True


class QuietLibraries(Callback):
    """Hydra callback: libraries with their own terminal handler are set to warnings only."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        # Optuna attaches its own stderr handler at INFO when first imported ("A new study
        # created in memory ..."); set it before the sweeper imports it.
        if "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower():
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
