"""submitit's local job controller, allowed as many starts as the job's requeues need.

submitit's local executor (`hydra/launcher=slurm_local`) runs each job under a controller process,
`python -m submitit.local._local FOLDER`, which restarts the job whenever it exits asking to be
requeued, but at most 6 times in all (`Controller.run(max_retry=6)`), whatever
`max_num_timeout` says. A job allowed 10 requeues was then left after its 6th start with no
result and no reason but "its process died" (tests/cli/test_local_requeue.py on a busy machine).

Here the launcher's local executor (`executor_class`) starts this module as the controller
instead, with `max(6, max_num_timeout + 1)` starts: the countdown of `max_num_timeout`
(fcnn_cli.hydra_app.requeue) decides when a job is out of requeues, as on SLURM, and this bound is
only the safety net submitit meant it to be.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

STARTS = "FCNN_LOCAL_STARTS"  # the controller's bound on a job's starts
SUBMITIT_STARTS = 6  # submitit's own bound (Controller.run's max_retry)


def starts_allowed(max_num_timeout: int) -> int:
    """How many times the controller may start a job allowed `max_num_timeout` requeues."""
    return max(SUBMITIT_STARTS, max_num_timeout + 1)


def executor_class() -> type:
    """submitit's LocalExecutor, its jobs run under this module's controller."""
    from submitit.local import local

    class LocalExecutor(local.LocalExecutor):
        def _submit_command(self, command: str) -> Any:
            # submitit 1.5's LocalExecutor._submit_command and start_controller (MIT licence), but
            # the controller is this module, with its bound on starts in the environment.
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
                **{STARTS: str(starts_allowed(self.max_num_timeout))},
            )
            command_line: Any = [sys.executable, "-m", __name__, str(self.folder)]
            if setup:
                command_line = " && ".join([*setup, shlex.join(command_line)])
            # The LocalJob polls this process and ends it, as submitit's own does.
            process = subprocess.Popen(command_line, shell=bool(setup), env=env)  # noqa: S603
            return local.LocalJob(folder=self.folder, job_id=str(process.pid), process=process,
                                  tasks=list(range(ntasks)))

    return LocalExecutor


def main(folder: str) -> None:
    from submitit.local.local import Controller

    starts = os.environ.get(STARTS, "")
    Controller(Path(folder)).run(max_retry=int(starts) if starts.isdigit() else SUBMITIT_STARTS)


if __name__ == "__main__":
    main(*sys.argv[1:])
