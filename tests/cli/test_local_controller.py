"""The local executor's controller starts a job as often as its requeues need: submitit's own stops
after 6 starts, whatever max_num_timeout says (fcnn_cli.hydra_app.slurm.local_controller)."""

from __future__ import annotations

import pytest
from submitit.core.utils import UncompletedJobError
from submitit.local.local import LOCAL_REQUEUE_RETURN_CODE, LocalExecutor

from fcnn_cli.hydra_app.slurm import local_controller

pytestmark = pytest.mark.slow

STARTS_NEEDED = 8  # more than submitit's 6


def _requeued_until(starts_needed: int, counter: str):
    """A job that asks to be requeued (as a timed-out job does) until its `starts_needed`-th
    start; a closure, so that the job's pickle carries its code (the test module is not
    importable in the job's process)."""
    code = LOCAL_REQUEUE_RETURN_CODE

    def job() -> int:
        import sys
        from pathlib import Path

        path = Path(counter)
        start = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(start))
        if start < starts_needed:
            sys.exit(code)
        return start

    return job


def _submit(executor_class: type, folder, max_num_timeout: int):
    folder.mkdir()
    counter = folder / "starts"
    executor = executor_class(folder / "jobs", max_num_timeout=max_num_timeout)
    executor.update_parameters(timeout_min=5)
    return executor.submit(_requeued_until(STARTS_NEEDED, str(counter))), counter


@pytest.mark.cluster  # a requeue soak: eight starts of a job, against submitit's six
def test_a_job_allowed_ten_requeues_gets_its_eighth_start_where_submitits_stops_at_six(tmp_path):
    # Both at once (each start is a new Python process): ours, and submitit's own controller as
    # the control that shows what this mends.
    ours, our_starts = _submit(local_controller.executor_class(), tmp_path / "ours", 10)
    theirs, their_starts = _submit(LocalExecutor, tmp_path / "submitit", 10)
    assert ours.result() == STARTS_NEEDED
    assert our_starts.read_text() == str(STARTS_NEEDED)
    theirs.wait()
    assert their_starts.read_text() == str(local_controller.SUBMITIT_STARTS)
    with pytest.raises(UncompletedJobError, match="has not produced any output"):
        theirs.result()


@pytest.mark.parametrize(("max_num_timeout", "starts"), [(0, 6), (3, 6), (5, 6), (10, 11), (40, 41)])
def test_the_bound_leaves_the_countdown_to_decide(max_num_timeout, starts):
    assert local_controller.starts_allowed(max_num_timeout) == starts
