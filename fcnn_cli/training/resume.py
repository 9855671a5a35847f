"""The rules for going on with a run from its checkpoint (`fcnn train resume=RUN_DIR`, a
requeued SLURM job, a continued sweep): which runs may resume, and from what.

Refused in one line (UsageError, exit status 2), nothing in the directory touched: a run without
a checkpoint or with a damaged one, a run that diverged, one that completed (unless max_epochs
grows), a max_epochs below the epochs done, and a checkpoint another config or other data wrote.
Which settings the command line may change is the config's business (fcnn_cli.hydra_app.resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnn_cli.errors import UsageError
from fcnn_cli.runs import layout
from fcnn_cli.training.checkpoint import CheckpointError, differences, load

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.training.checkpoint import Checkpoint


def resume_point(run: layout.RunDir, s: Settings) -> Checkpoint:
    """The checkpoint `run` goes on from with settings `s`, or UsageError saying why it cannot."""
    where = run.path
    metrics = run.read_metrics() or {}
    status = run.status()
    if status == layout.DIVERGED:
        raise UsageError("resume", f"{where} diverged (epoch {metrics.get('epochs_completed')}): "
                                   "there is nothing to resume; start a new run")
    if not run.checkpoint.is_file():
        raise UsageError("resume", f"{where} has no {layout.CHECKPOINT}: it stopped before its first "
                                   "epoch ended, or was trained by an fcnn without checkpoints; "
                                   "nothing to resume")
    try:
        checkpoint = load(run.checkpoint)
    except CheckpointError as err:
        raise UsageError("resume", f"{err}; it cannot be resumed") from None
    done = checkpoint.epoch
    if status == layout.COMPLETED and s.max_epochs <= done:
        raise UsageError("resume", f"{where} already completed its {done} epochs; to train it "
                                   f"further, give a larger max_epochs (resume=... max_epochs="
                                   f"{done + max(1, done)})")
    if s.max_epochs < done:
        raise UsageError("resume", f"max_epochs={s.max_epochs} is fewer than the {done} epochs "
                                   f"{where} has done")
    return checkpoint


def check_belongs(checkpoint: Checkpoint, run: dict[str, Any], where: Path) -> None:
    """Refuse a checkpoint that another configuration (or other data) wrote; `run` is this
    run's `checkpoint.run_record`."""
    found = differences(checkpoint, run)
    if found:
        raise UsageError("resume", f"{where}: the checkpoint does not belong to this run's config "
                                   f"and data ({'; '.join(found)}); it cannot be resumed")


def left_unfinished(run_dir: Path) -> bool:
    """Whether an earlier start of the run in `run_dir` left a checkpoint and no result (a
    requeued job, a job of a continued sweep): then it goes on from there. A fresh run's
    directory is new, so it starts from its beginning."""
    run = layout.RunDir(run_dir)
    return run.checkpoint.is_file() and run.status() not in (layout.COMPLETED, layout.DIVERGED)


def resuming_line(where: Path, done: int, max_epochs: int) -> str:
    """What a resumed run says first: 'resuming DIR at epoch 101 of 650'."""
    if done >= max_epochs:  # killed after its last checkpoint, before its results were written
        return f"resuming {where}: its {done} epochs are done; writing its results"
    return f"resuming {where} at epoch {done + 1} of {max_epochs}"
