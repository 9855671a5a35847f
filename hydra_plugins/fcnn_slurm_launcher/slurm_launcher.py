"""Hydra's submitit SLURM launcher, waiting with squeue instead of sacct and recording dead jobs.

Hydra instantiates launchers only from the `hydra_plugins` package, so the class lives here; the
work is in `fcnn_cli.slurm`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra_plugins.hydra_submitit_launcher import submitit_launcher


class FcnnSlurmLauncher(submitit_launcher.SlurmLauncher):
    """Submits a sweep as one SLURM job array; a job that dies is a failed run, not a hung sweep."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        from fcnn_cli import slurm

        return slurm.launch(self, job_overrides, initial_job_idx)
