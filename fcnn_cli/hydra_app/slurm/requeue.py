"""SLURM's time limit and preemption: a sweep job that submitit runs stops after its epoch, keeps
its checkpoint, and is requeued; the requeued job resumes from that checkpoint in the same run
directory (fcnn_cli.training.resume.left_unfinished), and ends bitwise equal to the job never interrupted.

Why not submitit's own checkpointing alone: its handler of the time-limit warning (SIGUSR2,
`signal_delay_s` before the limit) requeues at once, in the middle of an epoch, and it ignores
SIGTERM. Here both only set fcnn's stop flag (fcnn_cli.training.interrupt), so the loop ends
after the current epoch and writes the checkpoint of that last epoch; then:

- SIGUSR2 (the time limit is near, or a cluster's preemption warning): the job requeues itself
  as submitit would (the launcher's `checkpoint`, the countdown of `max_num_timeout` requeues,
  `scontrol requeue`, which SLURM's stop of the job must not break: requeue_by_scontrol; submitit's
  local executor restarts it). Out of requeues, it is failed with that reason, its checkpoint kept.
- SIGTERM (`scontrol requeue`, preemption, `scancel`): the job leaves without a result. SLURM
  either runs it again (requeue, preemption), and it resumes, or ends it (cancel), and the
  launcher records it as failed (fcnn_cli.hydra_app.slurm.launcher).

metrics.json says how often the job was requeued (`requeues`; SLURM's own count,
SLURM_RESTART_COUNT, or the count the job carried in its directory on submitit's local executor).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fcnn_cli.errors import Interrupted
from fcnn_cli.runs import layout

REQUEUES = "requeues"


def requeues_so_far(run_dir: Path) -> int:
    """How often this job has been requeued before: SLURM's count, or what its directory says."""
    metrics = layout.RunDir(run_dir).read_metrics() or {}
    carried = metrics.get(REQUEUES)
    carried = carried if isinstance(carried, int) else 0
    restarts = os.environ.get("SLURM_RESTART_COUNT", "")
    return max(carried, int(restarts) if restarts.isdigit() else 0)


def _set_requeues(run_dir: Path, count: int) -> None:
    run = layout.RunDir(run_dir)
    metrics = run.read_metrics()
    if metrics is not None and count and metrics.get(REQUEUES) != count:
        metrics[REQUEUES] = count
        run.write_metrics(metrics)


def run_job(launcher: Any, sweep_overrides: list[str], job_dir_key: str, job_num: int,
            job_id: str, singleton_state: dict[Any, Any]) -> Any:
    """What a submitit launcher's job runs (BaseSubmititLauncher.__call__ of
    hydra-submitit-launcher 1.2, MIT licence), with fcnn's signal handling: see the module's
    docstring. Returns the job's Hydra JobReturn. This is the job process's entry: a job
    stopped to be requeued ends the process without a result (SystemExit), as submitit's own
    handler does, so that the launcher waits for its next start."""
    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job as hydra_run_job
    from hydra.core.utils import setup_globals
    from omegaconf import open_dict

    from fcnn_cli.hydra_app import session as sessions
    from fcnn_cli.hydra_app.private_submitit import time_limit_signal
    from fcnn_cli.training.interrupt import SignalGuard

    started = time.time()
    env = submitit.JobEnvironment()
    warning = time_limit_signal(env)
    # Replaces submitit's handlers (installed before this call): its USR2 handler would requeue
    # in the middle of an epoch, and it ignores SIGTERM.
    guard = sessions.begin("train", SignalGuard(raising=False, also=(warning,))).guard
    Singleton.set_state(singleton_state)
    setup_globals()
    sweep_config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config,
                                                                          sweep_overrides)
    with open_dict(sweep_config.hydra.job) as job:
        job.id = env.job_id
        sweep_config.hydra.job.num = job_num
    run_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
    count = requeues_so_far(run_dir)
    result = hydra_run_job(hydra_context=launcher.hydra_context, task_function=launcher.task_function,
                           config=sweep_config, job_dir_key=job_dir_key,
                           job_subdir_key="hydra.sweep.subdir")
    signum = guard.signum
    status = layout.RunDir(run_dir).status()
    if signum == warning and status != layout.COMPLETED:
        return _requeue_after_warning(launcher, env, run_dir, count, started,
                        (sweep_overrides, job_dir_key, job_num, job_id, singleton_state), result)
    if signum == signal.SIGTERM and status != layout.COMPLETED:
        # SLURM requeues it (scontrol requeue, preemption) or ends it (scancel): either way no
        # result, so the launcher waits for the job's next start or records how SLURM ended it.
        _set_requeues(run_dir, count)
        print(f"fcnn: job {env.job_id} stopped by SIGTERM after its epoch; its checkpoint is kept "
              f"for its next start", file=sys.stderr, flush=True)
        raise SystemExit(Interrupted(signal.SIGTERM).exit_status)
    _set_requeues(run_dir, count)
    return result


def _requeue_after_warning(launcher: Any, env: Any, run_dir: Path, count: int, started: float,
             arguments: tuple[Any, ...], result: Any) -> Any:
    """After SLURM's time-limit warning: requeue the job (as submitit's SignalHandler does), or,
    out of requeues, record it as failed and return its failed JobReturn."""
    from submitit.core import utils

    from fcnn_cli.hydra_app.private_hydra import failed_return
    from fcnn_cli.hydra_app.private_submitit import requeue_job, timeout_of

    delayed = utils.DelayedSubmission.load(env.paths.submitted_pickle)
    timeout_min, countdown_before = timeout_of(delayed)
    limit_s = 60 * float(timeout_min)
    # submitit's rule: a warning this early in the job's time is a preemption, not its limit,
    # and does not count against max_num_timeout.
    timed_out = time.time() - started >= min(0.8 * limit_s, limit_s - 600)
    countdown = countdown_before - int(timed_out)
    run = layout.RunDir(run_dir)
    if countdown < 0:
        allowed = launcher.params.get("max_num_timeout")
        reason = (f"TIMEOUT: out of requeues (hydra.launcher.max_num_timeout={allowed}, requeued "
                  f"{count} times); its checkpoint is kept")
        metrics = run.read_metrics() or {}
        metrics.update(status=layout.FAILED, failure="killed", error=reason, slurm_job_id=env.job_id)
        if count:
            metrics[REQUEUES] = count
        run.write_metrics(metrics)
        print(f"fcnn: job {env.job_id}: {reason}", file=sys.stderr, flush=True)
        return failed_return(result.overrides, RuntimeError(reason))
    again = launcher.checkpoint(*arguments)
    again.set_timeout(timeout_min, countdown)
    with utils.temporary_save_path(env.paths.submitted_pickle) as tmp:
        again.dump(tmp)
    _set_requeues(run_dir, count + 1)
    metrics = run.read_metrics() or {}
    print(f"fcnn: job {env.job_id} got the time-limit warning (SIG{env.USR_SIG}): stopped after epoch "
          f"{metrics.get('epochs_completed')}, checkpoint kept; requeued ({countdown} more "
          f"allowed)", file=sys.stderr, flush=True)
    if env.cluster == "slurm":
        requeue_by_scontrol(env.job_id)
    else:
        requeue_job(env, countdown)  # submitit's local executor: exits for its controller to restart it
    raise SystemExit(-1)  # no result: the launcher waits for the requeued job


def requeue_by_scontrol(job_id: str) -> None:
    """`scontrol requeue JOB_ID` from inside that job, as submitit's SlurmJobEnvironment._requeue
    runs it, safe against the job's own stop.

    SLURM carries out the requeue by sending SIGTERM to every process of the job, scontrol among
    them, and on a loaded machine that can come before slurmctld's reply reaches scontrol: submitit's
    `check_call` then raised CalledProcessError, and the job was recorded as failed although SLURM
    ran it again (seen once in CI). So scontrol starts with SIGTERM blocked and ends once answered.
    If it is killed all the same (SIGKILL, KillWait after the SIGTERM), SLURM is stopping this job,
    requeued or at its time limit: the job leaves without a result, as on SIGTERM, and the launcher
    waits for its next start or records how SLURM ended it. Any other failure of scontrol is raised.
    """
    # The mask is inherited through exec; the job's own SIGTERM waits meanwhile (it is leaving).
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        proc = subprocess.run(["scontrol", "requeue", job_id], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)  # submitit's limit
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if proc.returncode < 0:
        print(f"fcnn: job {job_id}: scontrol requeue was stopped by "
              f"{signal.Signals(-proc.returncode).name}, as SLURM stops this job; SLURM decides "
              f"whether it starts again", file=sys.stderr, flush=True)
    else:
        proc.check_returncode()
