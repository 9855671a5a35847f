"""fcnn's Hydra plugins: thin subclasses of Hydra's grid sweeper and of the joblib launcher.

Hydra instantiates sweepers and launchers only from this namespace package, so the classes live
here; what they do is in `fcnn_cli.hydra_app.sweeps`. Imported by Hydra's plugin scan on every start:
nothing heavy at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.utils import JobReturn


class GridSweeper(BasicSweeper):
    """Hydra's basic (grid) sweeper: every job's settings are checked by `check` (a dotted path,
    e.g. fcnn_cli.config.validate.from_train_config) before the first job starts, and a failed job does not
    stop the others (the sweep's summary reports it; see fcnn_cli.hydra_app.callbacks)."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 check: str | None = None) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.check = check

    def sweep(self, arguments: list[str]) -> Any:
        from fcnn_cli.hydra_app.sweeps import grid_sweep

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

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app.sweeps import launch_surviving

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
        """submitit's local launcher, carrying on when a job's process dies."""

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app.sweeps import launch_submitit_surviving

            return launch_submitit_surviving(self, job_overrides, initial_job_idx)

    class SurvivingSlurmLauncher(SlurmLauncher):
        """submitit's SLURM launcher, submitting the sweep as one job array and waiting with
        squeue (no accounting database needed); a job that dies (cancelled, out of memory, out
        of time) is recorded as failed in its directory and the sweep goes on."""

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            from fcnn_cli.hydra_app import slurm

            return slurm.launch(self, job_overrides, initial_job_idx)

    PLUGINS += [SurvivingLocalLauncher, SurvivingSlurmLauncher]
