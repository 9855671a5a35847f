"""`fcnn train -m resume=SWEEP_DIR`: continue a sweep where it stopped.

The command line is rewritten before Hydra sees it (`rewrite`): the sweep's own overrides and
Hydra settings, read back from its multirun.yaml, with `hydra.sweep.dir` set to SWEEP_DIR and a
launcher of the user's choice. Hydra so composes the very sweep that ran, with its job numbers.
The sweep (fcnn_cli.hydra_app.sweeps.grid.grid_sweep) then launches only the jobs that did not
complete, each in its own directory, where it resumes from its checkpoint
(fcnn_cli.hydra_app.slurm.requeue.resume_started) or, without one, runs from its start; completed jobs
are not launched, their files untouched.

Refused in one line, exit status 2: a directory that is not a sweep, overrides that change the
sweep's parameters, and a sweep still running: its `fcnn train -m` holds a lock on the sweep
directory while it runs (`hold`), every training job one on its run directory, and SLURM is asked
about the sweep's jobs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fcnn_cli.errors import UsageError
from fcnn_cli.hydra_app.session import KEPT, RERUN, RESUMED, Continuation
from fcnn_cli.runs import layout

MULTIRUN_FLAGS = ("-m", "--multirun")
#: Hydra settings a continued sweep may not change: they define its jobs and where they are.
FIXED_HYDRA = ("hydra.sweeper", "hydra.sweep", "hydra.mode")
#: Written by fcnn's callbacks or Hydra into the saved overrides: set again on continuing.
_DROPPED = ("hydra.sweep.dir", "hydra.mode")

#: The sweepers that continue a sweep: fcnn's grid sweeper, and its Optuna one (sweeps.search).
CONTINUABLE = (".GridSweeper", ".OptunaSearch")




def plan(args: list[str]) -> tuple[list[str], Continuation | None]:
    """`fcnn train`'s arguments, and the sweep they continue: unchanged and None, except for
    `-m resume=SWEEP_DIR`, which becomes the sweep's own command line (see the module's
    docstring). UsageError when it cannot continue."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not set(MULTIRUN_FLAGS) & set(args):
        return args, None
    flags = [a for a in args if a.startswith("-")]
    given = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(given)
    except Exception:  # noqa: BLE001 - Hydra reports a malformed override itself
        return args, None
    resume = [o for o in parsed if o.key_or_group == "resume"]
    if not resume:
        return args, None
    sweep_dir = sweep_directory(resume[0].value())
    task, hydra = saved_overrides(sweep_dir)
    mine = [o for o in parsed if o.key_or_group != "resume" and not o.key_or_group.startswith("hydra")]
    changed = [o.input_line for o in mine if o.input_line not in task]
    fixed = [o.input_line for o in parsed if o.key_or_group.startswith(FIXED_HYDRA)
             and o.input_line not in hydra]
    if changed or fixed:
        raise UsageError("resume", f"{' '.join(changed + fixed)} would change the sweep {sweep_dir} "
                                   f"(its overrides: {' '.join(task) or 'none'}); a continued sweep "
                                   "keeps its own: give only hydra/launcher and hydra.launcher.* "
                                   "settings")
    new_hydra = [o for o in parsed if o.key_or_group.startswith("hydra")]
    replaced = {o.key_or_group for o in new_hydra}
    if "hydra/launcher" in replaced:  # the old launcher's settings may not exist in the new one
        replaced.add("hydra.launcher")
    kept = [h for h in hydra if not _key(h).startswith(_DROPPED)
            and _key(h) not in replaced and not any(_key(h).startswith(f"{k}.") for k in replaced)]
    return [*flags, *task, *kept, *(o.input_line for o in new_hydra),
            f"hydra.sweep.dir={_quoted(str(sweep_dir))}"], Continuation(sweep_dir)


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def _quoted(text: str) -> str:
    """`text` as a quoted value of Hydra's override grammar."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    return f"'{escaped}'"


def sweep_directory(value: Any) -> Path:
    """The sweep directory `-m resume=VALUE` names (UsageError otherwise)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError("resume", f"must be the directory of a sweep to continue, got {value!r}")
    path = Path(value)
    if not path.is_dir():
        raise UsageError("resume", f"{path} {'is not a directory' if path.exists() else 'does not exist'}")
    if not (path / layout.SWEEP_CONFIG).is_file():
        if layout.RunDir(path).config.is_file():
            raise UsageError("resume", f"resumes one run, not a sweep: drop -m (fcnn train "
                                       f"resume={path}); -m resume=SWEEP_DIR continues a sweep")
        raise UsageError("resume", f"{path} is not a sweep directory (it has no "
                                   f"{layout.SWEEP_CONFIG})")
    return path


def saved_overrides(sweep_dir: Path) -> tuple[list[str], list[str]]:
    """The task and Hydra overrides the sweep in `sweep_dir` ran with."""
    saved = layout.load_yaml(sweep_dir / layout.SWEEP_CONFIG)
    overrides = ((saved or {}).get("hydra") or {}).get("overrides") if isinstance(saved, dict) else None
    if not isinstance(overrides, dict):
        raise UsageError("resume", f"{sweep_dir / layout.SWEEP_CONFIG} cannot be read as a sweep's "
                                   "record; the sweep cannot be continued")
    return [str(o) for o in overrides.get("task") or []], [str(o) for o in overrides.get("hydra") or []]


def record(config: Any, sweep_dir: Path) -> None:
    """Save the sweep's config and command line in `sweep_dir` as it starts (what `rewrite`
    reads back): Hydra's grid sweeper writes it again, Optuna's never does."""
    from omegaconf import OmegaConf

    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / layout.SWEEP_CONFIG)


def hold(sweep_dir: Path) -> int | None:
    """Hold `sweep_dir` while this process runs its sweep: a flock the system releases when the
    process ends, however it ends, or when the returned descriptor is closed (None: nothing to
    hold). UsageError when another process holds it."""
    import fcntl

    try:
        fd = os.open(sweep_dir, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError("resume", f"the sweep {sweep_dir} is still running (its fcnn train -m "
                                   "holds it); continue it once that has ended") from None
    except OSError:
        pass  # no flock on this file system: nothing to check against
    return fd


def start(sweep_dir: Path, sweeper_target: str = "") -> int | None:
    """Before a continued sweep launches anything: refuse one that is still running, and hold it
    (`hold`'s descriptor). Only fcnn's sweepers know how to continue (`sweeper_target`,
    hydra.sweeper._target_)."""
    if sweeper_target and not sweeper_target.endswith(CONTINUABLE):
        raise UsageError("resume", f"{sweep_dir} was swept by {sweeper_target.rsplit('.', 1)[-1]}, "
                                   "which cannot continue a sweep: resume its runs one by one "
                                   "(fcnn train resume=RUN_DIR)")
    held = hold(sweep_dir)
    try:
        for run_dir in layout.find_runs(sweep_dir):
            with layout.RunDir(run_dir).hold() as free:
                if not free:
                    raise UsageError("resume", f"{run_dir} is still training; continue the sweep once "
                                               "its jobs have ended")
        queued = live_slurm_jobs(sweep_dir)
        if queued:
            raise UsageError("resume", f"the sweep {sweep_dir} still has SLURM jobs queued or running "
                                       f"({', '.join(queued)}; scancel ends them); continue it once "
                                       "they have ended")
    except BaseException:
        if held is not None:
            os.close(held)
        raise
    return held


def live_slurm_jobs(sweep_dir: Path) -> list[str]:
    """The sweep's SLURM jobs (submitit's folders name them) that SLURM still queues or runs."""
    folder = sweep_dir / ".submitit"
    if not folder.is_dir() or shutil.which("squeue") is None:
        return []
    from fcnn_cli.hydra_app.slurm import launcher as slurm

    ids = _job_ids(p.name for p in folder.iterdir())
    states = slurm.job_states(ids) if ids else {}
    return sorted(job for job, state in (states or {}).items() if state not in slurm.ENDED_STATES)


def _job_ids(names: Iterable[str]) -> list[str]:
    """SLURM job ids among submitit's folder names ("48", "49_3"); the local executor's are pids
    and never in squeue, so asking about them is harmless."""
    return [n for n in names if n.replace("_", "").isdigit()]


def classify(run_dir: Path) -> str:
    """What a continued sweep does with the job in `run_dir`."""
    run = layout.RunDir(run_dir)
    if run.status() in (layout.COMPLETED, layout.DIVERGED):
        return KEPT
    return RESUMED if run.checkpoint.is_file() else RERUN


def clear_for_rerun(run_dir: Path) -> None:
    """A job run again from its start: what an earlier start left (a failure record, curves)
    goes, so that only this run's results are there."""
    for name in layout.TRAINING_FILES:
        (run_dir / name).unlink(missing_ok=True)


def summary_line(sweep_dir: Path, continued: Continuation | None) -> str | None:
    """'continued: 5 jobs kept, 2 resumed, 1 rerun' for a sweep `continued`; how often its jobs
    were requeued; None when there is nothing to say."""
    parts = []
    if continued is not None:
        counts = continued.counts()
        parts.append(f"continued: {counts[KEPT]} job{'s' if counts[KEPT] != 1 else ''} kept, "
                     f"{counts[RESUMED]} resumed, {counts[RERUN]} rerun")
    requeued = {}
    for run_dir in layout.find_runs(sweep_dir):
        count = (layout.RunDir(run_dir).read_metrics() or {}).get("requeues")
        if isinstance(count, int) and count > 0:
            requeued[run_dir.name] = count
    if requeued:
        total = sum(requeued.values())
        parts.append(f"requeued {total} time{'s' if total != 1 else ''} ("
                     + ", ".join(f"job {name}: {n}" for name, n in requeued.items()) + ")")
    return "; ".join(parts) if parts else None
