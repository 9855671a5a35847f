"""Where fcnn meets Hydra's run and sweep machinery: directories of their own, refused runs that
leave nothing behind, failed sweep jobs recorded in their directories, and a sweep's summary.

- `RunDirectories` (a Hydra callback, in `hydra.callbacks` of conf/config.yaml and bench.yaml)
  claims the run or sweep directory before Hydra writes anything into it (`fcnn_cli.runs.claim`)
  and ends a sweep with a summary of its jobs. The one directory it does not claim fresh is the
  run `resume=RUN_DIR` names (fcnn_cli.hydra_app.resume): the run goes on there, and its own `.hydra/`
  record is kept as it is.
- `guarded_task` wraps a Hydra task function: bad input in a single run is one line and exit
  status 2, with the run's directory removed again; in a sweep, a job that is refused or raises
  is recorded as failed in its own directory and the other jobs go on.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import sys
from collections import Counter
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write
from omegaconf.errors import OmegaConfBaseException

from fcnn_cli.errors import (
    Escalated,
    Interrupted,
    MachineFault,
    SweepFailed,
    UsageError,
    signal_name,
)
from fcnn_cli.hydra_app import errors as hydra_errors
from fcnn_cli.hydra_app import session as sessions
from fcnn_cli.hydra_app.sweeps import continuation
from fcnn_cli.runs import layout
from fcnn_cli.training import interrupt

F = TypeVar("F", bound=Callable[..., Any])

def register_plugins() -> None:
    """Register fcnn's sweeper and launcher (hydra_plugins/fcnn_sweeps) with Hydra.

    Hydra finds plugins by walking the hydra_plugins namespace package, which an editable
    install (`pip install -e`, as `make setup` does) hides from that walk; registering them by
    name works for every kind of install.
    """
    import importlib

    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()  # Hydra's scan first: it may have loaded (executed) them already
    ours = importlib.import_module("hydra_plugins.fcnn_sweeps")
    for plugin in ours.PLUGINS:
        if f"{plugin.__module__}.{plugin.__name__}" not in plugins.class_name_to_class:
            plugins.register(plugin)


def command_line_keys(config: DictConfig) -> set[str]:
    """The keys the command line set among Hydra's own settings (hydra.run.dir, ...), however
    they were spelled (`key=`, `+key=`, `++key=`, quoted), read with Hydra's override parser."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)
    parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides or []])
    return {o.key_or_group for o in parsed}


def _claim_directory(config: DictConfig, key: str, marker: str | None) -> Path:
    """Claim the directory `key` resolves to and pin `key` to it in `config`."""
    value = OmegaConf.select(config, key)  # resolves ${now:...}; cached for the whole run
    if value is None or not str(value).strip():
        raise UsageError(key, f"is {'null' if value is None else 'empty'}; name a new directory, "
                              "or leave it unset for a fresh one")
    path = sessions.current().claims.claim(Path(str(value)), key,
                                           named=key in command_line_keys(config), marker=marker)
    with read_write(config):
        OmegaConf.update(config, key, str(path), merge=False)
    return path


def _override_value(text: str) -> str:
    """`text` as a quoted value of Hydra's override grammar (no escapes, no interpolation)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    return f"'{escaped}'"


class RunDirectories(Callback):
    """Hydra callback: every run and sweep gets a directory of its own, and a sweep a summary."""

    # Hydra turns an exception in a callback into a warning and goes on, which here would mean a
    # run in a directory nobody checked: every failure ends the command instead (_or_escalate).

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _or_escalate(OmegaConf.select, config, "resume", default=None) is not None:
            _or_escalate(_resume_directory, config)
        else:
            _or_escalate(_claim_directory, config, "hydra.run.dir", config.hydra.output_subdir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        session = sessions.current()
        if session.continuation is not None:  # -m resume=SWEEP_DIR: its own directory again
            path = session.continuation.sweep_dir
            session.held = _or_escalate(continuation.start, path,
                                        str(config.hydra.sweeper.get("_target_", "")))
        else:
            _or_escalate(_refuse_resume_in_sweep, config)
            path = _or_escalate(_claim_directory, config, "hydra.sweep.dir", None)
            session.held = continuation.hold(path)  # a continuation started meanwhile sees it running
            continuation.record(config, path)
        session.sweep_dir = path
        # Each job composes its config again from the command line's Hydra overrides: the
        # directory claimed here goes there too, so a suffixed one (`-1`) reaches every job.
        with read_write(config):
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={_override_value(str(path))}")
        # From here on Ctrl-C stops the running jobs after their epoch and skips the rest, and
        # says so at once.
        session.guard.defer()
        if session.guard.heard is not None:
            session.guard.heard = functools.partial(interrupt.heard_line, sweep=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        session = sessions.current()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        signum = session.guard.signum
        # Every job of the sweep is counted: one that left no directory was skipped, because the
        # sweep was interrupted or because its worker process had been stopped by a signal.
        expected = session.expected.get(sweep_dir.absolute(), [])
        unstarted = [d for d in expected if not d.is_dir()]
        why = ("the sweep was interrupted" if signum is not None
               else "its worker process had been stopped by a signal")
        failed, stopped = summarize_sweep(sweep_dir, unstarted, why)
        more = continuation.summary_line(sweep_dir, session.continuation)
        if more:
            print(more, flush=True)
        if failed or stopped:
            print(f"continue the sweep with: fcnn train -m resume={shlex.quote(str(sweep_dir))}",
                  file=sys.stderr, flush=True)
        if signum is not None:
            raise Escalated(Interrupted(signum, (
                f"fcnn: the sweep was interrupted ({signal_name(signum)}): "
                f"{stopped} job{'s' if stopped != 1 else ''} stopped after an epoch, the jobs "
                f"not started were skipped; runs in {sweep_dir}")))
        if failed or stopped:
            raise Escalated(SweepFailed())


def _resume_directory(config: DictConfig) -> None:
    """`resume=RUN_DIR`: the run goes on in RUN_DIR, which is not claimed (it is the run's own),
    and Hydra does not write its `.hydra/` record again (the run keeps its own config)."""
    from fcnn_cli.hydra_app.resume import run_directory

    path = run_directory(OmegaConf.select(config, "resume"))
    if "hydra.run.dir" in command_line_keys(config):
        named = Path(str(config.hydra.run.dir))
        if named.absolute() != path.absolute():
            raise UsageError("hydra.run.dir", f"a resumed run stays in its own directory "
                                              f"{path}; leave hydra.run.dir out")
    with read_write(config):
        OmegaConf.update(config, "hydra.run.dir", str(path), merge=False)
        config.hydra.output_subdir = None


def _refuse_resume_in_sweep(config: DictConfig) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False) or []
    keys = {o.key_or_group for o in OverridesParser.create().parse_overrides(
        [str(o) for o in overrides])}
    if "resume" in keys or OmegaConf.select(config, "resume", default=None) is not None:
        raise UsageError("resume", "in a sweep names the sweep to continue: fcnn train -m "
                                   "resume=SWEEP_DIR, and nothing else that changes the sweep")


def _or_escalate(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """func(*args, **kwargs); what it raises ends the command as bad input (one line, status 2),
    past Hydra's callback handling, which would make it a warning."""
    try:
        return func(*args, **kwargs)
    except UsageError as err:
        raise Escalated(err) from None
    except Exception as err:
        line = hydra_errors.one_line(err) or f"{type(err).__name__}: {err}"
        raise Escalated(UsageError.line(line)) from None


def summarize_sweep(sweep_dir: Path, unstarted: list[Path] | None = None,
                    why: str = "its worker process had been stopped by a signal") -> tuple[int, int]:
    """Print how the jobs under `sweep_dir` ended, and where; return how many failed and how
    many were interrupted or `unstarted` (each of those with the command that resumes it, or the
    reason it left no directory).

    A job that left no metrics.json (its process died before it could say so) is recorded as
    failed here, so that `fcnn report` shows it as such.
    """
    unstarted = unstarted or []
    jobs = [layout.RunDir(p) for p in layout.find_runs(sweep_dir)]
    for job in jobs:
        if job.status() == layout.UNFINISHED:
            job.record_failure("killed", "the job ended without writing its results: its process "
                                         "died (killed, out of memory or out of time)")
    statuses = Counter(job.status() for job in jobs)
    stopped = [job for job in jobs if job.status() == layout.INTERRUPTED]
    failed = [job for job in jobs
              if job.status() not in (layout.COMPLETED, layout.DIVERGED, layout.INTERRUPTED)]
    parts = [f"{statuses[layout.COMPLETED]} completed"]
    if statuses[layout.DIVERGED]:
        parts.append(f"{statuses[layout.DIVERGED]} diverged")
    if stopped:
        parts.append(f"{len(stopped)} interrupted")
    if unstarted:
        parts.append(f"{len(unstarted)} not started")
    parts.append(f"{len(failed)} failed")
    count = len(jobs) + len(unstarted)
    print(f"sweep: {count} job{'s' if count != 1 else ''}, {', '.join(parts)}; "
          f"runs in {sweep_dir}", flush=True)

    def name(job: layout.RunDir) -> Any:
        return job.path.relative_to(sweep_dir) if job.path.is_relative_to(sweep_dir) else job.path

    for job in stopped:
        metrics = job.read_metrics() or {}
        print(f"  interrupted {name(job)} after {metrics.get('epochs_completed')}/"
              f"{metrics.get('max_epochs')} epochs; resume with: "
              f"{interrupt.resume_command(job.path)}", file=sys.stderr, flush=True)
    for job in failed:
        print(f"  failed {name(job)}: {job.failure() or job.status()}", file=sys.stderr, flush=True)
    if unstarted:
        # (a worker that got SIGTERM or SIGINT stops its job and skips the jobs it is given next)
        names = ", ".join(str(name(layout.RunDir(path))) for path in unstarted)
        print(f"  not started: {names} ({why})", file=sys.stderr, flush=True)
    print(f"next: fcnn report {shlex.quote(str(sweep_dir))}", flush=True)
    return len(failed), len(stopped) + len(unstarted)


def guarded_task(func: F) -> F:
    """Wrap a Hydra task function (see the module's docstring)."""

    @wraps(func)
    def wrapper(cfg: Any) -> Any:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        session = sessions.current()
        session.task_started = True
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
        job_num = hydra_cfg.job.num if in_sweep else None
        try:
            try:
                OmegaConf.to_container(cfg, resolve=True)  # a bad ${...} fails here, with its key
                return func(cfg)
            except OmegaConfBaseException as err:  # reading a key of the config: its value is bad
                message = " ".join(str(err).split("\n")[0].split())
                raise UsageError(getattr(err, "full_key", None) or "config", message) from None
        # A single run's error goes to the entry point past Hydra (which would log it as a crash
        # first): fcnn_cli.hydra_app.app.run raises it once Hydra has returned.
        except UsageError as err:
            if not in_sweep:
                session.claims.discard(run_dir)  # a refused run leaves no directory behind
                session.error = err
                return None
            _job_failed(run_dir, job_num, "refused", str(err))
            raise
        except Interrupted as err:  # a signal before training began
            if not in_sweep:
                session.claims.discard(run_dir)  # (a resumed run's directory is not ours: it stays)
                session.error = err
                return None
            _remove_unstarted(run_dir)
            raise interrupt.Skipped(f"not started: the sweep was interrupted ({err})") from None
        except MachineFault as err:  # the run's checkpoint is kept; the line says what to do
            with contextlib.suppress(OSError):  # the disk may refuse this record too
                _job_failed(run_dir, job_num, "error", str(err))
            if not in_sweep:
                session.error = err
                return None
            raise
        except Exception as err:
            _job_failed(run_dir, job_num, "error", f"{type(err).__name__}: {err}")
            raise

    return wrapper  # type: ignore[return-value]


def _remove_unstarted(run_dir: Path) -> None:
    """Remove a sweep job's directory that Hydra made for a job that never trained (it holds
    the job's `.hydra/` record and log at most): the sweep's summary lists only jobs that ran."""
    import shutil

    job = layout.RunDir(run_dir)
    if not job.metrics.exists() and not job.checkpoint.exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def _job_failed(run_dir: Path, job_num: int | None, kind: str, reason: str) -> None:
    """Record a failed run in its directory; a sweep's job also says so in one line at once."""
    layout.RunDir(run_dir).record_failure(kind, reason)
    if job_num is not None:
        print(f"fcnn: sweep job {job_num} {'refused' if kind == 'refused' else 'failed'}: "
              f"{' '.join(reason.split())}", file=sys.stderr, flush=True)
