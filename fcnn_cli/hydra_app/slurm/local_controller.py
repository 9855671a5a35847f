"""submitit's local job controller, allowed as many starts as the job's requeues need.

submitit's local executor (`hydra/launcher=slurm_local`) runs each job under a controller process,
`python -m submitit.local._local FOLDER`, which restarts the job whenever it exits asking to be
requeued, but at most 6 times in all (`Controller.run(max_retry=6)`), whatever
`max_num_timeout` says: a job allowed more requeues would die after its 6th start with no result.

Here the launcher's local executor (`executor_class`) starts this module as the controller
instead, with `max(6, max_num_timeout + 1)` starts: the countdown of `max_num_timeout`
(fcnn_cli.hydra_app.slurm.requeue) decides when a job is out of requeues, as on SLURM, and this bound is
only the safety net submitit meant it to be.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

STARTS = "FCNN_LOCAL_STARTS"  # the controller's bound on a job's starts
SUBMITIT_STARTS = 6  # submitit's own bound (Controller.run's max_retry)


def starts_allowed(max_num_timeout: int) -> int:
    """How many times the controller may start a job allowed `max_num_timeout` requeues."""
    return max(SUBMITIT_STARTS, max_num_timeout + 1)


def executor_class() -> type:
    """submitit's LocalExecutor, its jobs run under this module's controller."""
    from fcnn_cli.hydra_app.private_submitit import local_executor

    return local_executor(__name__, lambda allowed: {STARTS: str(starts_allowed(allowed))})


def main(folder: str) -> None:
    from submitit.local.local import Controller

    starts = os.environ.get(STARTS, "")
    Controller(Path(folder)).run(max_retry=int(starts) if starts.isdigit() else SUBMITIT_STARTS)


if __name__ == "__main__":
    main(*sys.argv[1:])
