"""What fcnn's two submitit launchers share: the executor and each job's arguments, set up as
hydra-submitit-launcher 1.2's BaseSubmititLauncher.launch does (MIT licence).

The local launcher (`sweeps.launch_submitit_surviving`) and the SLURM one (`slurm.launch`) differ
only in how they wait for the jobs and what they record for one that died.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fcnn_cli.errors import UsageError, did_you_mean

log = logging.getLogger("hydra_plugins.fcnn_sweeps")


def executor(launcher: Any) -> Any:
    """A submitit AutoExecutor for the launcher's cluster ("local" or "slurm"), with the
    launcher's parameters: generic ones as they are, the others prefixed with the cluster's name.

    Raises submitit's RuntimeError where that cluster cannot run (no `srun` for SLURM), and
    UsageError for a launcher key that executor does not take.
    """
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    from fcnn_cli.hydra_app.private_submitit import executor_keys, executor_of

    cluster = launcher._EXECUTOR
    params = dict(launcher.params)
    init = {"folder": params.pop("submitit_folder")}
    if "max_num_timeout" in params:  # how often a job that timed out is requeued
        init[f"{cluster}_max_num_timeout"] = params.pop("max_num_timeout")
    made = submitit.AutoExecutor(cluster=cluster, **init)
    if cluster == "local":
        # The same executor, whose jobs may start as often as max_num_timeout needs
        # (submitit's controller stops at 6 starts); the subclass adds no state of its own.
        from fcnn_cli.hydra_app.slurm import local_controller

        executor_of(made).__class__ = local_controller.executor_class()
    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    taken = generic | executor_keys(executor_of(made)) | {"max_num_timeout", "submitit_folder"}
    for key, value in params.items():
        # submitit's NameError would name "{cluster}_{key}" and list only the cluster's own keys
        if key not in taken and value is not None:
            raise UsageError(f"hydra.launcher.{key}",
                             f"{did_you_mean(key, taken)}{_launcher_name(launcher)} does not take it; "
                             f"it takes {', '.join(sorted(taken))}")
    made.update_parameters(**{k if k in generic else f"{cluster}_{k}": v for k, v in params.items()})
    return made


def _launcher_name(launcher: Any) -> str:
    """'hydra/launcher=NAME' as the command line or the config chose it."""
    try:
        return f"hydra/launcher={launcher.config.hydra.runtime.choices['hydra/launcher']}"
    except (AttributeError, KeyError, TypeError):
        return f"the {launcher._EXECUTOR} launcher"


def job_arguments(launcher: Any, job_overrides: Sequence[Sequence[str]],
                  initial_job_idx: int) -> list[tuple[Any, ...]]:
    """The sweep directory made (with hydra.sweep.mode, if set), and the arguments of each job's
    call of `launcher` (overrides, the sweep-dir key, index, job id key, Hydra's state), each
    job logged on one line."""
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides

    sweep = launcher.config.hydra.sweep
    sweep_dir = Path(str(sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in sweep and sweep.mode is not None:
        os.chmod(sweep_dir, mode=int(str(sweep.mode), 8))
    log.info(f"Submitit '{launcher._EXECUTOR}' sweep of {len(job_overrides)} jobs, output dir: "
             f"{sweep_dir}")
    arguments = []
    for index, overrides in zip(job_numbers(launcher, initial_job_idx, len(job_overrides)),
                                job_overrides, strict=True):
        log.info(f"\t#{index} : {' '.join(filter_overrides(overrides))}")
        arguments.append((list(overrides), "hydra.sweep.dir", index, f"job_id_for_{index}",
                          Singleton.get_state()))
    return arguments


def job_numbers(launcher: Any, initial_job_idx: int, count: int) -> list[int]:
    """The numbers of the `count` jobs a launch runs: from `initial_job_idx` on, or those a
    continued sweep set (`launch_numbered`), whose jobs keep their numbers and skip completed ones."""
    numbers = getattr(launcher, "fcnn_job_numbers", None)
    if numbers is not None and len(numbers) == count:
        return list(numbers)
    return list(range(initial_job_idx, initial_job_idx + count))


def launch_numbered(launcher: Any, job_overrides: Sequence[Sequence[str]],
                    numbers: Sequence[int]) -> list[Any]:
    """Launch jobs under the given job numbers (and so in their own directories). fcnn's launchers
    take them all at once (`job_numbers`); another launcher gets each run of consecutive numbers."""
    if getattr(launcher, "numbered", False):
        launcher.fcnn_job_numbers = list(numbers)
        try:
            return list(launcher.launch(job_overrides, initial_job_idx=numbers[0]))
        finally:
            launcher.fcnn_job_numbers = None
    returns: list[Any] = []
    start = 0
    for i in range(1, len(numbers) + 1):
        if i == len(numbers) or numbers[i] != numbers[i - 1] + 1:
            returns += launcher.launch(job_overrides[start:i], initial_job_idx=numbers[start])
            start = i
    return returns
