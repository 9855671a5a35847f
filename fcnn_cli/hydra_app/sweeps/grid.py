"""Sweeps that check every job before the first starts and survive a job that dies.

The logic behind the thin Hydra plugins in `hydra_plugins/fcnn_sweeps` (Hydra finds plugins only
in that namespace package): `grid_sweep` is Hydra's grid sweep (BasicSweeper.sweep) with every
job's settings checked up front and without stopping at a failed job; `launch_surviving` is the
joblib launcher's `launch` that carries on when a worker process is killed.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from fcnn_cli.errors import UsageError
from fcnn_cli.hydra_app import session as sessions
from fcnn_cli.hydra_app.sweeps import continuation
from fcnn_cli.runs import layout

# Under hydra_plugins, as the launchers this replaces log: Hydra's logging config shows those
# launch lines on the terminal (and fcnn_cli.hydra_app.quiet trims them).
log = logging.getLogger("hydra_plugins.fcnn_sweeps")


# --- the grid sweeper ---------------------------------------------------------------------------

def grid_sweep(sweeper: Any, arguments: list[str]) -> list[Sequence[Any]]:
    """BasicSweeper.sweep, but every job is composed and checked before any starts, and a failed
    job (recorded in its directory by the task) does not stop the others."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from fcnn_cli.hydra_app.private_hydra import sweeper_params

    parser = OverridesParser.create(config_loader=sweeper.hydra_context.config_loader)
    overrides = parser.parse_overrides([*sweeper_params(sweeper), *arguments])
    # Hydra's basic launcher runs its jobs one after another in this process: given one at a
    # time, none is launched once a signal has stopped the sweep.
    one_by_one = type(sweeper.launcher).__name__ == "BasicLauncher"
    sweeper.overrides = sweeper.split_arguments(overrides, 1 if one_by_one else sweeper.max_batch_size)
    sweep_dir = Path(str(sweeper.config.hydra.sweep.dir))
    jobs = [list(job) for batch in sweeper.overrides for job in batch]
    dirs = check_jobs(sweeper.hydra_context.config_loader, sweeper.config, jobs, sweeper.check,
                      sweep_dir)
    # A job skipped by a worker process that a signal had stopped leaves no directory (as the
    # jobs an interrupted sweep skips), and the sweep's summary must still count it.
    session = sessions.current()
    session.expected[sweep_dir.absolute()] = dirs

    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(sweeper.config, sweep_dir / layout.SWEEP_CONFIG)
    if session.continuation is not None:
        return [continue_jobs(sweeper, jobs, dirs, session.continuation)]
    returns, first_job = [], 0
    while not sweeper.is_done() and session.guard.signum is None:
        batch = sweeper.get_job_batch()
        returns.append(sweeper.launcher.launch(batch, initial_job_idx=first_job))
        first_job += len(batch)
    return returns


def continue_jobs(sweeper: Any, jobs: list[list[str]], dirs: list[Path],
                  plan: continuation.Continuation) -> list[Any]:
    """A continued sweep (fcnn_cli.hydra_app.sweeps.continuation): launch, under their own numbers, the
    jobs that did not complete; each resumes from its checkpoint or runs from its start."""
    from fcnn_cli.hydra_app.slurm.jobs import launch_numbered

    todo: list[tuple[int, list[str]]] = []
    for number, (overrides, job_dir) in enumerate(zip(jobs, dirs, strict=True)):
        plan.jobs[number] = kind = continuation.classify(job_dir)
        if kind == continuation.RERUN:
            continuation.clear_for_rerun(job_dir)
        if kind != continuation.KEPT:
            todo.append((number, overrides))
    counts = plan.counts()
    log.info(f"continuing the sweep: {counts['kept']} jobs kept, {counts['resumed']} to resume, "
             f"{counts['rerun']} to run from the start")
    if not todo:
        return []
    return launch_numbered(sweeper.launcher, [o for _, o in todo], [n for n, _ in todo])


def check_jobs(config_loader: Any, master: DictConfig, jobs: list[list[str]], check: str | None,
               sweep_dir: Path) -> list[Path]:
    """Compose every job's config and pass it to `check` (a dotted path such as
    fcnn_cli.config.validate.from_train_config); the first refusal ends the sweep before any job started,
    naming the job, and the sweep's fresh directory is removed again. Returns each job's run
    directory."""
    from hydra.utils import get_method

    checker: Callable[[Any], Any] | None = get_method(check) if check else None
    # A job is named by the values that differ between jobs: the ones the sweep is over.
    varying = {o.split("=", 1)[0] for job in jobs for o in job
               if any(o not in other for other in jobs)}
    dirs = []
    for number, job in enumerate(jobs):
        try:
            cfg = config_loader.load_sweep_config(master_config=master, sweep_overrides=job)
            if checker is not None:
                checker(cfg)
            dirs.append(_dir_of(_numbered(cfg, number)))
        except UsageError as err:
            sessions.current().claims.discard(sweep_dir)
            values = [o for o in job if o.split("=", 1)[0] in varying] or job
            where = f"sweep job {number} of {len(jobs)}: {' '.join(values) or 'no overrides'}"
            raise UsageError(err.key, f"{err.message} ({where}); no job was started") from None
        except BaseException:
            # Hydra's own errors: reported by the caller, nothing left
            sessions.current().claims.discard(sweep_dir)
            raise
    return dirs


# --- the joblib launcher that survives a dead worker --------------------------------------------

def launch_surviving(launcher: Any, job_overrides: Sequence[Sequence[str]],
                     initial_job_idx: int) -> list[Any]:
    """The joblib launcher's launch, carrying on when a loky worker process dies.

    A dead worker breaks joblib's whole pool: every job in flight is lost with it, and nothing
    says which job the dead worker ran. So the jobs still without a result run again: those
    that had not started, together as before; those that had started, one at a time, so that a
    job that kills its worker again is the one recorded as killed. When a single job was
    running, it is the one, and it is not run again.
    """
    from hydra.core.singleton import Singleton
    from hydra.core.utils import configure_log, filter_overrides, setup_globals

    from fcnn_cli.hydra_app.private_hydra import joblib_core

    process_joblib_cfg, _ = joblib_core()

    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    joblib_cfg = dict(launcher.joblib)
    joblib_cfg["backend"] = "loky"  # as the plugin: threads are incompatible with Hydra
    process_joblib_cfg(joblib_cfg)
    log.info("Joblib.Parallel({}) is launching {} jobs".format(
        ",".join(f"{k}={v}" for k, v in joblib_cfg.items()), len(job_overrides)))
    log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
    from fcnn_cli.hydra_app.slurm.jobs import job_numbers

    numbers = job_numbers(launcher, initial_job_idx, len(job_overrides))
    jobs = {number: list(o) for number, o in zip(numbers, job_overrides, strict=True)}
    for idx, overrides in jobs.items():
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")

    state = Singleton.get_state()
    results: dict[int, Any] = {}
    args = (launcher.hydra_context, config, launcher.task_function, state)

    def together(indices: list[int]) -> str | None:
        """Run `indices` in joblib's pool; None when all returned, else why the pool broke."""
        from joblib import Parallel, delayed

        parallel = Parallel(**{**joblib_cfg, "return_as": "generator_unordered"})
        try:
            for idx, ret in parallel(delayed(_execute_job)(idx, jobs[idx], *args) for idx in indices):
                results[idx] = ret
        except BrokenExecutor as err:  # loky's TerminatedWorkerError, or a pool found broken
            return _exit_codes(str(err))
        return None

    def alone(idx: int) -> None:
        """Run job `idx` by itself in a worker process of its own (joblib would run a single job
        in this process, where a fatal signal would end the whole sweep); record it if it dies.
        A pool of its own, not loky's shared one, which joblib's next Parallel reuses."""
        from joblib.externals.loky.process_executor import ProcessPoolExecutor

        try:
            with ProcessPoolExecutor(max_workers=1) as pool:
                results[idx] = pool.submit(_execute_job, idx, jobs[idx], *args).result()[1]
        except BrokenExecutor as err:
            results[idx] = _killed(launcher, idx, jobs[idx], _exit_codes(str(err)))

    from joblib import effective_n_jobs

    queue = sorted(jobs)
    while queue:
        if len(queue) == 1 or effective_n_jobs(joblib_cfg.get("n_jobs", -1)) == 1:
            for idx in queue:
                alone(idx)
            break
        broke = together(queue)
        if broke is None:
            break
        lost = [idx for idx in queue if idx not in results]
        # In flight: Hydra had made the job's directory, and the job had not finished in it.
        in_flight = [idx for idx in lost if _in_flight(_job_dir(launcher, idx, jobs[idx]))]
        if len(lost) == 1 or len(in_flight) == 1:
            # One job was running: the dead worker ran it.
            dead = lost[0] if len(lost) == 1 else in_flight[0]
            results[dead] = _killed(launcher, dead, jobs[dead], broke)
            queue = [idx for idx in lost if idx != dead]
            continue
        # Several (or none) were: run them again one at a time to find the one that dies.
        suspects = in_flight or lost
        queue = [idx for idx in lost if idx not in suspects]
        for idx in suspects:
            log.info(f"a worker process died ({broke}); running job #{idx} again, alone")
            alone(idx)
    return [results[idx] for idx in sorted(jobs)]


def _in_flight(job_dir: Path) -> bool:
    return job_dir.is_dir() and not layout.RunDir(job_dir).metrics.is_file()


def _execute_job(idx: int, *args: Any) -> tuple[int, Any]:
    """The plugin's execute_job, returning the job's index with its result (for unordered runs)."""
    from fcnn_cli.hydra_app.private_hydra import joblib_core

    _, execute_job = joblib_core()

    return idx, execute_job(idx, *args)


def _exit_codes(message: str) -> str:
    """The dead workers' exit codes from loky's TerminatedWorkerError, e.g. 'SIGKILL(-9)'."""
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", message)
    return f"exit {found.group(1)}" if found else "it was terminated"


def _numbered(cfg: DictConfig, idx: int) -> DictConfig:
    """A job's composed config with its number, as the launcher sets it."""
    with open_dict(cfg):
        cfg.hydra.job.num = idx
        cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
    return cfg


def _job_dir(launcher: Any, idx: int, overrides: list[str]) -> Path:
    """Where job `idx` of the sweep runs (as run_job computes it)."""
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
    return _dir_of(_numbered(cfg, idx))


def _dir_of(cfg: DictConfig) -> Path:
    """The run directory of a job's numbered config."""
    from hydra.core.hydra_config import HydraConfig

    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)  # the subdir may interpolate ${hydra.job.num}, ...
    try:
        return Path(str(cfg.hydra.sweep.dir)) / str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
    finally:
        if previous is not None:
            HydraConfig.instance().set_config(previous)


def _killed(launcher: Any, idx: int, overrides: list[str], why: str) -> Any:
    """Record job `idx` as killed in its directory; its failed JobReturn for the sweeper."""
    from hydra.core.utils import JobReturn, JobStatus

    reason = f"its process died ({why}): killed by a signal, out of memory or out of time"
    layout.RunDir(_job_dir(launcher, idx, overrides)).record_failure("killed", reason)
    print(f"fcnn: sweep job {idx} failed: {reason}", file=sys.stderr, flush=True)
    ret = JobReturn(overrides=overrides, status=JobStatus.FAILED)
    ret.return_value = RuntimeError(reason)
    return ret


# --- the submitit launchers that survive a dead job ---------------------------------------------

def launch_submitit_surviving(launcher: Any, job_overrides: Sequence[Sequence[str]],
                              initial_job_idx: int) -> list[Any]:
    """The submitit launcher's launch (hydra-submitit-launcher 1.2's BaseSubmititLauncher.launch,
    set up by `submitit_jobs`), except at the end: it waits for every job, and one whose process
    died (killed, out of memory, out of time: no result) is recorded as failed in its directory
    instead of ending the sweep with an exception while the other jobs still run."""
    from fcnn_cli.hydra_app.slurm import jobs as submitit_jobs

    assert launcher.config is not None and len(job_overrides) > 0
    executor = submitit_jobs.executor(launcher)
    job_params = submitit_jobs.job_arguments(launcher, job_overrides, initial_job_idx)
    jobs = executor.map_array(launcher, *zip(*job_params, strict=True))

    results = []
    for (overrides, _, idx, _, _), job in zip(job_params, jobs, strict=True):
        try:
            results.append(job.results()[0])
        except Exception:  # noqa: BLE001 - UncompletedJobError, FailedJobError, ...
            why = f"submitit job {job.job_id} ended without a result"
            results.append(_killed(launcher, idx, overrides, why))
    return results
