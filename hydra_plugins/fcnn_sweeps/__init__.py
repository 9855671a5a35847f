"""fcnn's Hydra plugins: thin subclasses of Hydra's grid and Optuna sweepers and of the joblib and
submitit launchers.

Hydra instantiates sweepers and launchers only from this namespace package, so the classes live
here; what they do is in `fcnn_cli.hydra_app.sweeps.grid`. Imported by Hydra's plugin scan on every start:
nothing heavy at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn

from fcnn_cli.hydra_app.private_hydra import basic_sweeper

BasicSweeper = basic_sweeper()


class GridSweeper(BasicSweeper):
    """Hydra's basic (grid) sweeper: every job's settings are checked by `check` (a dotted path,
    e.g. fcnn_cli.config.validate.from_train_config) before the first job starts, and a failed job does not
    stop the others (the sweep's summary reports it; see fcnn_cli.hydra_app.callbacks)."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 check: str | None = None) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.check = check

    def sweep(self, arguments: list[str]) -> Any:
        from fcnn_cli.hydra_app.sweeps.grid import grid_sweep

        return grid_sweep(self, arguments)


PLUGINS: list[type] = [GridSweeper]

try:  # the joblib launcher comes with fcnn's `sweep` extra
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
except ImportError:  # pragma: no cover - without the extra there is nothing to subclass
    JoblibLauncher = None  # type: ignore[assignment,misc]

if JoblibLauncher is not None:

    class SurvivingJoblibLauncher(JoblibLauncher):
        """Hydra's joblib launcher, carrying on when a worker process dies (killed, out of
        memory): that job is recorded as failed in its directory, the others run to the end."""

        numbered = True  # takes the job numbers a continued sweep gives (submitit_jobs.job_numbers)

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app.sweeps.grid import launch_surviving

            return launch_surviving(self, job_overrides, initial_job_idx)

    PLUGINS.append(SurvivingJoblibLauncher)

try:  # the submitit launchers come with fcnn's `sweep` extra
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:  # pragma: no cover
    LocalLauncher = SlurmLauncher = None  # type: ignore[assignment,misc]

if LocalLauncher is not None and SlurmLauncher is not None:

    class SurvivingLocalLauncher(LocalLauncher):
        """submitit's local launcher, carrying on when a job's process dies; a job stopped by
        the time-limit signal is requeued as on SLURM (fcnn_cli.hydra_app.slurm.requeue)."""

        numbered = True  # takes the job numbers a continued sweep gives (submitit_jobs.job_numbers)

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app.sweeps.grid import launch_submitit_surviving

            return launch_submitit_surviving(self, job_overrides, initial_job_idx)

        def __call__(self, sweep_overrides: list[str], job_dir_key: str, job_num: int, job_id: str,
                     singleton_state: dict[Any, Any]) -> JobReturn:
            from fcnn_cli.hydra_app.slurm import requeue

            return requeue.run_job(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state)

    class SurvivingSlurmLauncher(SlurmLauncher):
        """submitit's SLURM launcher, submitting the sweep as one job array and waiting with
        squeue (no accounting database needed); a job that dies (cancelled, out of memory, out
        of time) is recorded as failed in its directory and the sweep goes on."""

        numbered = True  # takes the job numbers a continued sweep gives (submitit_jobs.job_numbers)

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app.slurm import launcher as slurm

            return slurm.launch(self, job_overrides, initial_job_idx)

        def __call__(self, sweep_overrides: list[str], job_dir_key: str, job_num: int, job_id: str,
                     singleton_state: dict[Any, Any]) -> JobReturn:
            """One job, on its node: on SLURM's time-limit warning or a requeue it stops after
            its epoch and is requeued, resuming from its checkpoint (fcnn_cli.hydra_app.slurm.requeue)."""
            from fcnn_cli.hydra_app.slurm import requeue

            return requeue.run_job(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state)

    PLUGINS += [SurvivingLocalLauncher, SurvivingSlurmLauncher]

try:  # the Optuna sweeper comes with fcnn's `sweep` extra
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:  # pragma: no cover
    OptunaSweeper = None  # type: ignore[assignment,misc]

if OptunaSweeper is not None:

    class OptunaSearch(OptunaSweeper):
        """Hydra's Optuna sweeper, whose study (kept in the sweep directory) an interrupted search
        continues with `fcnn train -m resume=SWEEP_DIR` (fcnn_cli.hydra_app.sweeps.search)."""

        def sweep(self, arguments: list[str]) -> None:
            from fcnn_cli.hydra_app.sweeps.search import search

            return search(self, arguments)

    PLUGINS.append(OptunaSearch)
