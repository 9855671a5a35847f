"""`fcnn train`: the Hydra task over `fcnn_cli.hydra_app.job.train_job`, and the line it ends with."""

from __future__ import annotations

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
    """The Hydra task behind `fcnn train` (run and multirun): one run (fcnn_cli.hydra_app.job),
    its headline, and what a sweeper reads of it.

    A single run that a signal stopped is left to the entry to end (fcnn_cli.hydra_app.app.run:
    128 + the signal's number, after the line saying how to resume); a sweep's job returns, and
    the sweep ends (fcnn_cli.hydra_app.callbacks) once the jobs not yet started were skipped.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from fcnn_cli.hydra_app import session as sessions
    from fcnn_cli.hydra_app.job import train_job
    from fcnn_cli.training.objective import objective

    metrics, run_dir = train_job(cfg)
    session = sessions.current()
    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if in_sweep or session.guard.signum is None or metrics["status"] != "interrupted":
        print(headline(metrics, run_dir), flush=True)
    if not in_sweep:
        session.result = (metrics, run_dir)
        if session.guard.signum is None:  # a sweep's summary names `fcnn report` instead
            print(next_step(run_dir), flush=True)
    return objective(metrics)
