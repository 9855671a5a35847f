"""`fcnn train`'s job in Hydra: the composed config checked into settings, then one run
(fcnn_cli.training.run) in the directory Hydra gave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def train_job(cfg: Any) -> tuple[dict[str, Any], Path]:
    """Train the run `cfg` describes in Hydra's output directory; its metrics and directory.

    With `resume` set, the directory is the run to go on with, and its own saved config is used
    with what the command line may change (fcnn_cli.hydra_app.resume). A sweep's job that an
    earlier start left unfinished (requeued on SLURM, or in a continued sweep) goes on from its
    checkpoint.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from fcnn_cli.config import validate
    from fcnn_cli.hydra_app import resume, tracking
    from fcnn_cli.hydra_app import session as sessions
    from fcnn_cli.runs.layout import RunDir
    from fcnn_cli.training import run
    from fcnn_cli.training.resume import left_unfinished

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    guard = sessions.current().guard
    resuming = cfg.get("resume") is not None
    requeued = hydra_cfg.mode == RunMode.MULTIRUN and not resuming and left_unfinished(run_dir)
    with guard.setup():  # a signal here abandons the run at once
        if resuming:
            cfg = resume.run_config(cfg, RunDir(run_dir), [str(o) for o in hydra_cfg.overrides.task])
        s = validate.from_train_config(cfg)  # before any work: bad input costs nothing
    extend = [resume.MaxEpochs(RunDir(run_dir), s.max_epochs)] if resuming or requeued else []
    metrics = run.train(s, run_dir, resume=resuming or requeued, guard=guard, callbacks=extend,
                        trackers=[lambda where: tracking.start(cfg, where)],
                        title=hydra_cfg.runtime.choices.get("experiment"))
    return metrics, run_dir
