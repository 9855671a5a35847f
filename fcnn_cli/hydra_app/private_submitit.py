"""Every private name of submitit that fcnn uses, in one place.

submitit's own checkpointing requeues a job in the middle of an epoch; fcnn's requeue
(fcnn_cli.hydra_app.slurm.requeue) does what submitit's SignalHandler does once the epoch ended,
which needs the time-limit signal, the job's time limit and requeue countdown, and submitit's
requeue call. The local executor's jobs run under fcnn's controller (its `_submit_command` is
copied with one change), and a launcher key is checked against what the executor takes.
`check()` exercises each against the installed version; tests/unit/test_private_apis.py fails,
naming the version, when an upgrade changes one.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

CHECKED = {"submitit": "1.5.4"}


def time_limit_signal(env: Any) -> int:
    """The signal SLURM sends before a job's time limit (JobEnvironment._usr_sig)."""
    return int(env._usr_sig())


def timeout_of(delayed: Any) -> tuple[float, int]:
    """A DelayedSubmission's time limit (minutes) and how many more time-outs it may requeue."""
    return delayed._timeout_min, delayed._timeout_countdown


def requeue_job(env: Any, countdown: int) -> None:
    """Requeue this job of submitit's local executor: the job exits, and its controller starts it
    again. (On SLURM, fcnn runs `scontrol requeue` itself: slurm.requeue.requeue_by_scontrol.)"""
    env._requeue(countdown)


def executor_of(auto: Any) -> Any:
    """The cluster's executor inside an AutoExecutor."""
    return auto._executor


def executor_keys(executor: Any) -> set[str]:
    """The parameters the cluster's executor takes."""
    return set(type(executor)._valid_parameters())


def local_executor(controller_module: str, starts: Callable[[int], dict[str, str]]) -> type:
    """submitit's LocalExecutor whose jobs run under `python -m controller_module FOLDER` with
    `starts(max_num_timeout)` in the environment: submitit 1.5's LocalExecutor._submit_command and
    start_controller (MIT licence), the controller being fcnn's (it allows more starts)."""
    from submitit.local import local

    class LocalExecutor(local.LocalExecutor):
        def _submit_command(self, command: str) -> Any:
            params = self.parameters
            ntasks = params.get("tasks_per_node", 1)
            n_gpus = params.get("gpus_per_node", 0)
            visible_gpus = params.get("visible_gpus", ())
            gpus = range(n_gpus) if visible_gpus == () else visible_gpus[:n_gpus]
            setup = list(params.get("setup", ()))
            env = dict(os.environ)
            env.update(
                SUBMITIT_LOCAL_NTASKS=str(ntasks),
                SUBMITIT_LOCAL_COMMAND=command,
                SUBMITIT_LOCAL_TIMEOUT_S=str(int(60 * params.get("timeout_min", 2.0))),
                SUBMITIT_LOCAL_SIGNAL_DELAY_S=str(int(params.get("signal_delay_s", 30))),
                SUBMITIT_LOCAL_NODEID="0",
                SUBMITIT_LOCAL_JOB_NUM_NODES="1",
                SUBMITIT_STDERR_TO_STDOUT="1" if params.get("stderr_to_stdout", False) else "",
                SUBMITIT_EXECUTOR="local",
                CUDA_VISIBLE_DEVICES=",".join(str(k) for k in gpus),
                SUBMITIT_LOCAL_WITH_SHELL="1" if setup else "",
                **starts(self.max_num_timeout),
            )
            command_line: Any = [sys.executable, "-m", controller_module, str(self.folder)]
            if setup:
                command_line = " && ".join([*setup, shlex.join(command_line)])
            # The LocalJob polls this process and ends it, as submitit's own does.
            process = subprocess.Popen(command_line, shell=bool(setup), env=env)  # noqa: S603
            return local.LocalJob(folder=self.folder, job_id=str(process.pid), process=process,
                                  tasks=list(range(ntasks)))

    return LocalExecutor


def check() -> list[str]:
    """What no longer holds in the installed submitit: one line each, naming the version."""
    import inspect

    import submitit
    from submitit.core.utils import DelayedSubmission
    from submitit.local import local

    installed = version("submitit")
    problems = []

    def problem(what: str) -> None:
        problems.append(f"{what} (installed: submitit {installed}; checked with submitit "
                        f"{CHECKED['submitit']})")

    for owner, name in ((submitit.JobEnvironment, "_usr_sig"), (submitit.JobEnvironment, "_requeue"),
                        (local.LocalExecutor, "_submit_command"),
                        (local.LocalExecutor, "_valid_parameters")):
        if not callable(getattr(owner, name, None)):
            problem(f"{owner.__name__}.{name} is gone")
    delayed = DelayedSubmission(print)
    delayed.set_timeout(3.0, 2)
    try:
        if timeout_of(delayed) != (3.0, 2):
            problem("DelayedSubmission no longer keeps set_timeout's values in _timeout_min and "
                 "_timeout_countdown")
    except AttributeError as err:
        problem(f"DelayedSubmission: {err}")
    if "start_controller" not in inspect.getsource(local.LocalExecutor._submit_command):
        problem("LocalExecutor._submit_command no longer calls start_controller: fcnn's copy "
                "(local_executor) must follow it")
    source = inspect.getsource(local.start_controller)
    for needed in ("SUBMITIT_LOCAL_COMMAND", "SUBMITIT_LOCAL_TIMEOUT_S", "SUBMITIT_LOCAL_SIGNAL_DELAY_S",
                   "SUBMITIT_LOCAL_WITH_SHELL", "SUBMITIT_LOCAL_NTASKS", "submitit.local._local"):
        if needed not in source:
            problem(f"start_controller no longer sets {needed}: fcnn's copy (local_executor) must "
                    "follow it")
    if "max_retry" not in inspect.signature(local.Controller.run).parameters:
        problem("Controller.run takes no max_retry: fcnn's controller passes it")
    return problems
