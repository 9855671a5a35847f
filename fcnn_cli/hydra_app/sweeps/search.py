"""Optuna searches that survive: the study lives in the sweep directory (Optuna's SQLite storage,
`hydra.sweeper.storage`, conf/hydra/sweeper/search.yaml), so `fcnn train -m resume=SWEEP_DIR`
continues the same study to its `n_trials`.

On continuing (`continue_search`), before Hydra's Optuna sweeper takes over:

- the trials the interrupted search had asked for but not told (RUNNING in the study: their
  jobs were stopped or killed) run again under their own numbers, in their own directories, with
  their own overrides (so each resumes from its checkpoint or runs from its start), and their
  results are told to the study;
- a trial that had not started (no directory) is told as failed and not counted;
- the sweeper then asks for the trials still missing to `n_trials`, numbered after the last one;
  TPE samples them from every trial told so far.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fcnn_cli.hydra_app import session as sessions
from fcnn_cli.hydra_app.sweeps import continuation
from fcnn_cli.runs import layout

log = logging.getLogger("hydra_plugins.fcnn_sweeps")

STUDY_FILE = "optuna.db"


def search(sweeper: Any, arguments: list[str]) -> Any:
    """The Optuna sweeper's sweep (`sweeper`: fcnn's OptunaSearch), continued where a search
    stopped when this is `fcnn train -m resume=SWEEP_DIR`."""
    impl = sweeper.sweeper  # hydra-optuna-sweeper's OptunaSweeperImpl, which does the work
    check_counts(impl)
    if impl.storage is not None:
        sqlalchemy2_compat()
    plan = sessions.current().continuation
    if plan is not None:
        continue_search(impl, plan)
    return impl.sweep(arguments)


def check_counts(impl: Any) -> None:
    """n_trials and n_jobs as a user can fix them: Optuna's own word for n_trials=0 is
    "ValueError: Record does not exist" once the search is over, and n_jobs=0 never ends."""
    from fcnn_cli.errors import UsageError

    for name in ("n_trials", "n_jobs"):
        value = getattr(impl, name, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"hydra.sweeper.{name}", f"must be an integer >= 1, got {value!r}")


def continue_search(impl: Any, plan: continuation.Continuation) -> None:
    """Prepare `impl` (an OptunaSweeperImpl, after its setup) to go on with its stored study;
    `plan` records what becomes of each trial."""
    import optuna
    from optuna.trial import TrialState

    from fcnn_cli.errors import UsageError
    from fcnn_cli.hydra_app.slurm.jobs import launch_numbered

    sweep_dir = Path(str(impl.sweep_dir))
    if impl.storage is None:
        raise UsageError("resume", f"{sweep_dir} is a search whose study was kept in memory "
                                   "(hydra.sweeper.storage=null): it cannot be continued")
    try:
        study = optuna.load_study(study_name=impl.study_name, storage=impl.storage)
    except KeyError:  # no such study yet: the search stopped before its first trial
        return
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    rerun: list[tuple[int, list[str]]] = []
    for trial in stale:
        job_dir = sweep_dir / str(trial.number)
        overrides = layout.RunDir(job_dir).read_overrides()
        if overrides:
            plan.jobs[trial.number] = continuation.classify(job_dir)
            rerun.append((trial.number, overrides))
        else:  # asked, never started: the sweeper asks for another in its place
            study.tell(trial.number, state=TrialState.FAIL)
            log.info(f"trial {trial.number} never started: told to the study as failed")
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        plan.jobs[trial.number] = continuation.KEPT
    if rerun:
        log.info(f"continuing the search: trials {', '.join(str(n) for n, _ in rerun)} again")
        returns = launch_numbered(impl.launcher, [o for _, o in rerun], [n for n, _ in rerun])
        for (number, _), ret in zip(rerun, returns, strict=True):
            try:
                study.tell(number, values=[float(ret.return_value)])
            except Exception as err:  # noqa: BLE001 - a failed job: a failed trial, as the sweeper tells it
                study.tell(number, state=TrialState.FAIL)
                log.warning(f"Failed experiment: {err}")
    # Every trial told counts towards n_trials, as in the sweeper's own loop, but the ones that
    # never started.
    told = [t for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and layout.RunDir(sweep_dir / str(t.number)).is_run())]
    impl.n_trials = max(0, impl.n_trials - len(told))
    impl.job_idx = max((t.number for t in study.get_trials(deepcopy=False)), default=-1) + 1
    _draw_anew(impl.sampler, impl.job_idx)
    log.info(f"continuing the search: {len(told)} trials told, {impl.n_trials} to go")


def _draw_anew(sampler: Any, trials: int) -> None:
    """A seeded sampler made again draws what it drew for the first trials: the continued search
    would try their points again. Its generators go on from a state that the number of trials so
    far sets (the same for the same study, so a continued search is reproducible too). A grid
    sampler (a partial, made in the sweep) takes the grid points no trial has had, as it is."""
    import numpy as np

    for owner in (sampler, getattr(sampler, "_random_sampler", None)):
        if isinstance(getattr(owner, "_rng", None), np.random.RandomState):
            owner._rng = np.random.RandomState([trials, 2026])


def sqlalchemy2_compat() -> None:
    """Let Optuna 2 (which hydra-optuna-sweeper 1.2 needs) create an SQLite study under
    SQLAlchemy 2: it stamps the new database's schema version on a connection that SQLAlchemy 2
    no longer commits by itself, and then finds no version (an AssertionError). The stamp is
    committed here; Optuna 3 does the same."""
    import alembic.migration
    from optuna.storages._rdb import storage as rdb

    def set_alembic_revision(self: Any, revision: str) -> None:
        with self.engine.begin() as connection:
            context = alembic.migration.MigrationContext.configure(connection)
            context.stamp(self._create_alembic_script(), revision)

    rdb._VersionManager._set_alembic_revision = set_alembic_revision


def stored_best(sweep_dir: Path) -> tuple[float | None, dict[str, Any]] | None:
    """The best value and parameters so far of the study kept in `sweep_dir` (its STUDY_FILE),
    for a search that has not written optimization_results.yaml (interrupted, or running); None
    when there is no study to read."""
    import warnings

    path = sweep_dir / STUDY_FILE
    if not path.is_file():
        return None
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
            summaries = optuna.get_all_study_summaries(storage)
            if len(summaries) != 1:
                return None
            study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not done:
                return None, {}
            best = study.best_trial
    except Exception:  # noqa: BLE001 - an unreadable study is reported as such, never a crash
        return None
    return best.value, dict(best.params)
