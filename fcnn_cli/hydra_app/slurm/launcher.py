"""Sweeps on SLURM: a sweep's jobs go out as one job array (submitit); this waits for every one
of them and records each job SLURM ended without a result (cancelled, timed out, killed, failed)
as failed in its own run directory, so one dead job neither hangs the sweep nor hides the others.

Why not submitit's own waiting: it follows jobs with `sacct`, which needs SLURM's accounting
database. On a cluster without one (a small or a local cluster) it warns on every poll and waits
forever for a job that died without writing a result. Here jobs are followed with `squeue`, which
every cluster answers (ended jobs stay listed for MinJobAge, 5 minutes by default); `sacct` is
asked, quietly, only about jobs that squeue no longer lists.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException

# Under hydra_plugins: the quiet terminal (conf/hydra/hydra_logging/fcnn.yaml) shows its lines
# with the launcher's own, as Hydra's launchers log.
log = logging.getLogger("hydra_plugins.fcnn_sweeps.slurm")

# SLURM job states after which a job will not run again (sacct prints "CANCELLED by 0").
ENDED_STATES = frozenset({
    "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
    "DEADLINE", "OUT_OF_MEMORY", "REVOKED", "GONE",
})
# "GONE": neither squeue nor sacct knows the job any more (ended long ago, no accounting).
# Seconds between a job's end in SLURM and giving up on its result file (a shared file system
# can show the file late).
RESULT_GRACE_S = 3.0
# Longest pause between two squeue calls while jobs run.
MAX_POLL_S = 15.0


class SlurmJobFailed(CompactHydraException):
    """A sweep job that SLURM ended without a result; Hydra prints the message alone."""


@dataclass
class Outcome:
    """How one job of the array ended: its Hydra result, or the reason it has none."""

    index: int
    overrides: list[str]
    job_id: str
    result: Any = None
    failure: str | None = None
    log_file: Path | None = None


# --- asking SLURM -------------------------------------------------------------------------------

def _query(command: list[str]) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 1, "", str(err)
    return proc.returncode, proc.stdout, proc.stderr


def _parse_states(text: str) -> dict[str, str]:
    """`JOBID|STATE` lines into {job id: first word of the state}; steps (12.batch) skipped."""
    states = {}
    for line in text.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id and "." not in job_id and state:
            states[job_id] = state.split()[0].rstrip("+")
    return states


def job_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """The SLURM state of each job id ("123_4" for an array task); None when SLURM does not answer.

    A job that neither squeue nor sacct lists is "GONE".
    """
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    arrays = ",".join(sorted({job_id.split("_")[0] for job_id in wanted}))
    rc, out, err = _query(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T",
                           f"--jobs={arrays}"])
    if rc != 0 and "Invalid job id" not in err:
        return None  # the controller is unreachable: ask again later
    states = _parse_states(out) if rc == 0 else {}
    if any(job_id not in states for job_id in wanted):
        # squeue forgot them; sacct knows them when the cluster keeps accounting.
        rc, out, _ = _query(["sacct", "--noheader", "--parsable2", "--allocations",
                             "--format=JobID,State", f"--jobs={arrays}"])
        if rc == 0:
            states = {**_parse_states(out), **states}
    return {job_id: states.get(job_id, "GONE") for job_id in wanted}


def wait(jobs: Sequence[Any]) -> dict[str, str | None]:
    """Wait until every submitit job has a result file or has ended in SLURM without one.

    Returns {job id: None (a result is there) or the SLURM state it ended in}.
    """
    pending = {job.job_id: job for job in jobs}
    ended: dict[str, tuple[str, float]] = {}
    done: dict[str, str | None] = {}
    start = next_query = time.monotonic()
    while pending:
        now = time.monotonic()
        for job_id, job in list(pending.items()):
            if _has_result(job):
                done[job_id] = None
                del pending[job_id]
            elif job_id in ended and now - ended[job_id][1] >= RESULT_GRACE_S:
                done[job_id] = ended[job_id][0]
                del pending[job_id]
        if not pending:
            break
        if now >= next_query:
            states = job_states(pending) or {}
            for job_id, state in states.items():
                if state in ENDED_STATES and job_id not in ended:
                    ended[job_id] = (state, now)
                elif state not in ENDED_STATES:
                    # Requeued (PREEMPTED, then PENDING again): its next start will answer.
                    ended.pop(job_id, None)
            # Often at first (short jobs end within seconds), then less as the sweep runs on.
            next_query = now + min(MAX_POLL_S, 1.0 + (now - start) / 8)
        time.sleep(0.5)
    return done


def _has_result(job: Any) -> bool:
    folder = job.paths.folder
    with contextlib.suppress(OSError):  # refresh a network file system's view, as submitit does
        folder.chmod(folder.stat().st_mode)
    return job.paths.result_pickle.exists()


# --- outcomes -----------------------------------------------------------------------------------

# The batch script's first line (its `setup`) marks each start of a job in its stderr, which every
# start of a requeued job appends to: why the job ended is read from its last start alone.
START_MARK = "fcnn: start of SLURM job"
START_LINE = f'echo "{START_MARK} $SLURM_JOB_ID (restart ${{SLURM_RESTART_COUNT:-0}})" >&2'


def slurm_reason(log_file: Path) -> str:
    """SLURM's own words on why it ended a job's last start, from the job's stderr: slurmstepd's
    "*** JOB 12 ON vm CANCELLED AT 2026-11-28T13:43:03 DUE TO TIME LIMIT ***", else srun's "task 0:
    User defined signal 2" (a task killed by a signal); "" if neither.

    Only what follows the last start mark counts, so a job that died after being requeued is not
    said to have been cancelled "DUE TO JOB REQUEUE" by its earlier start's line."""
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return ""
    last_start = text.rfind(START_MARK)
    if last_start >= 0:
        text = text[last_start:]
    found = re.findall(r"\*\*\* (JOB .*?) \*\*\*", text)
    if found:
        return found[-1]
    killed = re.findall(r"^srun: error: \S+: (task \d+: .+?)\s*$", text, flags=re.MULTILINE)
    return f"srun: {killed[-1]}" if killed else ""


def outcome(job: Any, index: int, overrides: list[str], state: str | None) -> Outcome:
    """One job's result (a Hydra JobReturn) or why it has none."""
    from submitit.core.utils import pickle_load

    found = Outcome(index, overrides, job.job_id, log_file=job.paths.stderr)
    if state is not None:
        detail = slurm_reason(job.paths.stderr)
        found.failure = f"{state} in SLURM" + (f" ({detail})" if detail else "")
        return found
    kind, value = pickle_load(job.paths.result_pickle)
    if kind != "success":  # the job's Python raised outside the task
        found.failure = _last_line_of(str(value)) or "failed"
        return found
    found.result = value
    status = getattr(value, "status", None)
    if status is not None and status.name == "FAILED":
        # The task raised, and Hydra caught it: e.g. submitit ending a job it was told (by
        # SLURM's --signal, signal_delay_s before the time limit) is about to time out.
        from fcnn_cli.hydra_app.private_hydra import return_value

        error = return_value(value)
        if type(error).__name__ == "UncompletedJobError" and "timed-out" in str(error):
            found.failure = f"TIMEOUT (submitit stopped it before its time limit: {error})"
        else:
            found.failure = f"{type(error).__name__}: {error}"
    return found


def _last_line_of(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def job_return(found: Outcome, message: str) -> Any:
    """The Hydra JobReturn a sweeper expects: the job's own, or a FAILED one carrying `message`."""
    from fcnn_cli.hydra_app.private_hydra import failed_return

    if found.failure is None:
        return found.result
    return failed_return(found.overrides, SlurmJobFailed(message))


def record_failure(run_dir: Path, found: Outcome, task_config: Any = None) -> None:
    """Mark `run_dir` failed (killed, as `RunDir.record_failure` says it) for `fcnn report`,
    keeping whatever the job wrote there, its metrics included.

    A job that never started gets its config written, so the report shows its parameters; a
    run that finished training (metrics.json says completed) is left as it is.
    """
    from omegaconf import OmegaConf

    from fcnn_cli.runs.layout import FAILED, RunDir

    run = RunDir(run_dir)
    metrics = run.read_metrics() or {}
    if metrics.get("status") == "completed":
        return
    run.config.parent.mkdir(parents=True, exist_ok=True)
    if task_config is not None and not run.config.exists():
        OmegaConf.save(task_config, run.config)
    if not run.overrides.exists():
        OmegaConf.save(OmegaConf.create(list(found.overrides)), run.overrides)
    metrics.update(status=FAILED, failure="killed", error=found.failure or "ended without a result",
                   slurm_job_id=found.job_id,
                   log=None if found.log_file is None else str(found.log_file))
    run.write_metrics(metrics)


# --- the launcher's launch ----------------------------------------------------------------------

def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
    """Submit the jobs as one array through `launcher` (Hydra's submitit SlurmLauncher), wait for
    all of them, record the failed ones, and return one JobReturn per job, failed ones included."""
    import submitit
    from hydra.core.utils import filter_overrides

    from fcnn_cli.hydra_app.slurm import jobs as submitit_jobs

    config = launcher.config
    params = dict(launcher.params)
    limit_s = 60 * int(params.get("timeout_min") or 0)
    delay_s = int(params.get("signal_delay_s") or 0)
    if limit_s and limit_s - delay_s < 90:
        # submitit asks for --signal=USR2@signal_delay_s, and SLURM may send it up to 60 s early:
        # a job step that gets it before training is over is ended as timed out.
        log.warning(f"hydra.launcher.timeout_min={limit_s // 60} leaves no room for submitit's "
                    f"warning signal (signal_delay_s={delay_s}, which SLURM may send up to 60 s "
                    f"early): jobs may be stopped as soon as they start")
    try:
        executor = submitit_jobs.executor(launcher)
    except RuntimeError as err:  # submitit's 'Could not detect "srun"': no SLURM client here
        raise SlurmJobFailed(f"no SLURM here: {err} (`make slurm-up` starts a local cluster)") from None
    executor.update_parameters(slurm_setup=[START_LINE, *(params.get("setup") or [])])
    sweep_dir = Path(str(config.hydra.sweep.dir))
    arguments = submitit_jobs.job_arguments(launcher, job_overrides, initial_job_idx)
    try:
        jobs = executor.map_array(launcher, *zip(*arguments, strict=True))
    except (submitit.core.utils.FailedJobError, OSError) as err:
        # sbatch missing, no controller, or a request the cluster cannot meet (say, more CPUs
        # per task than a node has): SLURM's own one line says which.
        reason = _last_line_of(str(err)) or type(err).__name__
        raise SlurmJobFailed(f"SLURM did not take the sweep: {reason} (`sinfo` shows the cluster; "
                             f"`make slurm-up` starts a local one)") from None
    array_id = jobs[0].job_id.split("_")[0]
    what = f"job array {array_id}" if len(jobs) > 1 else f"job {array_id}"
    log.info(f"submitted to SLURM as {what}; waiting (squeue -j {array_id})")
    try:
        states = wait(jobs)
    except KeyboardInterrupt:
        import signal

        from fcnn_cli.errors import Interrupted

        raise Interrupted(signal.SIGINT, f"fcnn: stopped waiting; the jobs keep running in SLURM "
                                         f"(scancel {array_id} ends them)") from None

    outcomes = [outcome(job, args[2], args[0], states[job.job_id])
                for job, args in zip(jobs, arguments, strict=True)]
    failed = [found for found in outcomes if found.failure is not None]
    for found in failed:
        run_dir, task_config = _run_dir(launcher, found)
        record_failure(run_dir, found, task_config)
        _end_tracking(task_config, run_dir)
    log.info(f"SLURM {what}: {len(outcomes) - len(failed)} of {len(outcomes)} jobs completed"
             + (f", {len(failed)} failed" if failed else ""))
    for found in failed:
        log.error(f"\t#{found.index} {' '.join(filter_overrides(found.overrides))}: {found.failure}; "
                  f"log: {found.log_file}")
    # A sweeper raises the first failed job's error (the basic sweeper after the whole batch,
    # Optuna's beyond its max_failure_rate): say it once, for the whole array.
    message = (f"{len(failed)} of {len(outcomes)} jobs of SLURM {what} failed (listed above); "
               f"`fcnn report {sweep_dir}` shows every run")
    return [job_return(found, message) for found in outcomes]


def _end_tracking(task_config: Any, run_dir: Path) -> None:
    """With logger=mlflow, a job SLURM killed leaves its MLflow run open: end it as killed."""
    from fcnn_cli.hydra_app import tracking

    try:
        tracking.end_dead_run(task_config, run_dir)
    except Exception as err:  # noqa: BLE001 - tracking must not hide the sweep's outcome
        log.warning(f"could not mark the MLflow run of {run_dir} as killed: {err}")


def _run_dir(launcher: Any, found: Outcome) -> tuple[Path, Any]:
    """The run directory Hydra gives (or would have given) job `found.index`, and its task config."""
    from omegaconf import OmegaConf, open_dict

    sweep_config = launcher.hydra_context.config_loader.load_sweep_config(
        launcher.config, list(found.overrides))
    with open_dict(sweep_config.hydra.job):
        sweep_config.hydra.job.num = found.index
    run_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
    task_config = OmegaConf.masked_copy(sweep_config, [k for k in sweep_config if k != "hydra"])
    return run_dir, task_config
