"""`fcnn train`: the Hydra task over `fcnn_cli.hydra_app.job.train`, and the line it ends with."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fcnn_cli.hydra_app.callbacks import guarded_task


def headline(metrics: dict[str, Any], run_dir: Path) -> str:
    """The last line `fcnn train` prints."""
    state = "" if metrics["status"] == "completed" else f" ({metrics['status']})"
    if metrics.get("test_acc") is not None:
        text = f"test accuracy {100 * metrics['test_acc']:.2f}%"
    else:
        text = f"test loss {metrics['test_loss']:.4g}"
    if metrics.get("probe_test_acc") is not None:
        pair = "-vs-".join(map(str, metrics["probe_classes"]))
        text += (f", probe (layer {metrics['probe_layer']}, {metrics['probe_features']} features) "
                 f"{pair} test accuracy {100 * metrics['probe_test_acc']:.2f}%")
    return f"{text}{state}; run directory {run_dir}"


def next_step(run_dir: Path) -> str:
    """The line after the headline of a single run: how to look at what it made."""
    import shlex

    where = shlex.quote(str(run_dir))
    return f"next: fcnn evaluate {where}   (or fcnn report {where})"


@guarded_task
def hydra_task(cfg: Any) -> float:
    """The Hydra task behind `fcnn train` (run and multirun).

    A single run that a signal stopped ends the process with 128 + the signal's number, after
    one line saying how far it got and how to resume it; a sweep's job returns, and the sweep
    ends (fcnn_cli.hydra_app.callbacks) once the jobs not yet started have been skipped.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from fcnn_cli.hydra_app.job import train
    from fcnn_cli.hydra_app.requeue import resume_started
    from fcnn_cli.training import interrupt
    from fcnn_cli.training.objective import objective

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    # `fcnn train` installed the signal guard at start (fcnn_cli.cli); a joblib sweep's worker
    # processes install it here, so their jobs too stop after the epoch on Ctrl-C. Jobs that
    # submitit starts (SLURM) have it from fcnn_cli.hydra_app.requeue, with SLURM's time-limit
    # warning: they stop after the epoch and are requeued.
    if "Joblib" in str(hydra_cfg.launcher.get("_target_", "")):
        interrupt.install(raising=False)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # A requeued job, or one of a continued sweep, goes on from the checkpoint it left.
        resume_started(cfg, run_dir)
    metrics = train(cfg, run_dir, [str(o) for o in hydra_cfg.overrides.task])
    signum = interrupt.received()
    if signum is None or hydra_cfg.mode == RunMode.MULTIRUN:
        print(headline(metrics, run_dir), flush=True)
        if hydra_cfg.mode != RunMode.MULTIRUN:  # a sweep's summary names `fcnn report` instead
            print(next_step(run_dir), flush=True)
        return objective(metrics)
    if metrics["status"] != "interrupted":  # the signal came during the last epoch
        print(headline(metrics, run_dir), flush=True)
    print(interrupt.stopped_line(metrics, run_dir), file=sys.stderr, flush=True)
    interrupt.leave(signum)
