"""`fcnn train`: one run from a composed config to a filled run directory."""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnn_cli.hydra_hooks import guarded_task

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fcnn_cli.backends.base import Backend
    from fcnn_cli.checkpoint import Checkpoint
    from fcnn_cli.datasets import Dataset
    from fcnn_cli.loop import EpochCallback, History
    from fcnn_cli.run_outputs import SavedModel
    from fcnn_cli.runs import RunDir
    from fcnn_cli.settings import Settings


def train(cfg: Any, run_dir: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Validate `cfg`, train, score and write the run's files to `run_dir`; return its metrics.

    After every epoch the run's checkpoint is written. With `resume` set, `run_dir` is the run
    to go on with: its own config is used, with what `overrides` (the command line's) may change
    (fcnn_cli.resume), and training continues from its checkpoint. A signal caught by
    fcnn_cli.interrupt ends training after the current epoch: the run is saved as interrupted.
    """
    from fcnn_cli import runs
    from fcnn_cli.errors import UsageError

    out = runs.RunDir(run_dir)
    with out.hold() as held:
        if not held:
            raise UsageError("resume", f"{run_dir} is being trained by another fcnn train right "
                                       "now; resume it once that has ended")
        return _train(cfg, out, overrides)


def _train(cfg: Any, out: RunDir, overrides: Sequence[str]) -> dict[str, Any]:
    import contextlib

    from fcnn_cli import (
        checkpoint,
        datasets,
        interrupt,
        probe,
        resume,
        run_outputs,
        settings,
        tasks,
        tracking,
    )
    from fcnn_cli.errors import UsageError

    run_dir = out.path
    guard = interrupt.current()
    saved = None
    # Until training begins a signal abandons the run at once (nothing to keep yet).
    with guard.setup() if guard is not None else contextlib.nullcontext():
        if cfg.get("resume") is not None:
            cfg = resume.run_config(cfg, out, list(overrides))
        s = settings.from_config(cfg)  # before any work: bad input costs nothing
        if s.resume is not None:
            saved = resume.load_checkpoint(out, s)
        data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
        task = tasks.create(s, data)  # the checks that need the data, still before any training
        objective_name = resolve_objective(s.objective, task)
        probe_layer = probe.check(s.probe, task, data) if s.probe else None
        record = checkpoint.run_record(s, data)
        if saved is not None:
            resume.check_matches(saved, record, run_dir)
        tracker = tracking.start(cfg, run_dir)  # None unless logger=mlflow
    checkpointer = checkpoint.Checkpointer(out.checkpoint, record)
    extend = resume.MaxEpochs(out, s.max_epochs) if saved is not None else None
    callbacks = [c for c in (extend, tracker, checkpointer) if c is not None]
    try:
        backend, history = fit(s, data, callbacks, resume=saved,
                               stop=guard.requested if guard is not None else None)
    except checkpoint.CheckpointError as err:
        raise UsageError("resume", f"{err}; it cannot be resumed") from None
    if not history.records:  # stopped before a first epoch ended: nothing to keep
        raise interrupt.Interrupted(interrupt.received() or signal.SIGINT)

    backend.predict(data.x_test)  # warm-up: JIT backends compile here, not in the timing
    start = time.perf_counter()
    backend.predict(data.x_test)
    predict_seconds = time.perf_counter() - start

    last = history.last
    metrics: dict[str, Any] = {
        "backend": s.backend,
        "device": backend.device,
        "task": task.name,
        "dataset": s.dataset,
        "classes": None if s.classes is None else list(s.classes),
        "struct": list(s.struct),
        "activation": s.activation,
        "optimizer": s.optimizer.name,
        "lr": s.lr,
        "annealing": s.annealing,
        "batch_size": s.batch_size,
        "max_epochs": s.max_epochs,
        "dtype": s.dtype,
        "seed": s.seed,
        "status": history.status,
        "epochs_completed": len(history.records),
        "train_loss": last.train_loss,
        "train_acc": last.train_acc,
        "test_acc": last.test_acc,
        "val_acc": last.val_acc,
        "test_loss": last.test_loss,
        "val_loss": last.val_loss,
        "n_train": data.n_train,
        "n_val": 0 if data.x_val is None else int(data.x_val.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "fit_seconds": history.fit_seconds,
        "compile_seconds": backend.compile_seconds,
        "predict_seconds": predict_seconds,
        "checkpoint_seconds": checkpointer.seconds,
        "resumed_from_epoch": None if saved is None else saved.epoch,
        "versions": run_outputs.versions(),
    }
    params = backend.get_params()
    rows = history.rows()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_outputs.save_model(out.model, saved_model(s, data, task.name, params))
    run_outputs.write_curves(out.curves, rows, task.curve_columns)
    if s.plot:
        title = f"{s.backend} on {s.dataset}, struct {list(s.struct)}: {_test_text(metrics)}"
        run_outputs.plot_curves(out.plot, rows, title, task.curve_columns, task.loss_label)
        task.write_figures(run_dir, backend.predict, data)
    if s.probe is not None and history.status == "completed":
        features = probe.hidden_features(params, s.activation, probe_layer)
        probe_metrics, probe_history = probe.run(s.probe, s, data, features, probe_layer)
        metrics.update(probe_metrics)
        run_outputs.write_curves(out.probe_curves, probe_history.rows())
    metrics["objective"] = objective_name
    value = objective(metrics)
    metrics["objective_value"] = value if math.isfinite(value) else None
    # metrics.json last: its presence marks a finished run for `fcnn report`.
    out.write_metrics(metrics)
    if tracker is not None:
        tracker.finish(metrics, run_dir)
    return metrics


def fit(s: Settings, data: Dataset, callbacks: Sequence[EpochCallback] = (),
        resume: Checkpoint | None = None, stop: Callable[[], bool] | None = None,
        ) -> tuple[Backend, History]:
    """Train on `data` with the checked settings `s`: the backend `s` names, through the shared
    loop, which shows each epoch to `callbacks`. The one training path of `fcnn train` and
    `FCNNClassifier.fit`. `resume`: a checkpoint to go on from (CheckpointError when it does
    not fit the model); `stop`: asked before every epoch, true ends training there."""
    from fcnn_cli import backends, checkpoint, loop

    backend = backends.create(s, data)
    state = checkpoint.restore(resume, backend, s) if resume is not None else None
    return backend, loop.run(backend, s, callbacks, state=state, stop=stop)


def saved_model(s: Settings, data: Dataset, task: str, params: Any,
                classes: Any = None) -> SavedModel:
    """The record model.npz keeps of a trained net: its weights and how to use them (the
    dataset's labels unless `classes` names them, its input scaling and image shape)."""
    import numpy as np

    from fcnn_cli.datasets import SHAPES, Shape
    from fcnn_cli.run_outputs import SavedModel

    shape = SHAPES.get(s.dataset, Shape(0, 0, data.n_features, data.n_classes))
    return SavedModel(
        params=[(np.asarray(w), np.asarray(b)) for w, b in params], activation=s.activation,
        task=task, classes=np.asarray(data.classes if classes is None else classes),
        input_divisor=shape.divisor, image_shape=shape.image, dataset=s.dataset,
    )


def resolve_objective(name: str, task: Any) -> str:
    """The `objective` setting for this task: auto is val_acc, or val_loss without accuracy."""
    from fcnn_cli.errors import UsageError

    if name == "auto":
        return "val_acc" if task.metric == "acc" else "val_loss"
    if name == "val_acc" and task.metric != "acc":
        raise UsageError("objective", f"task={task.name} has no accuracy: use val_loss, or "
                                      "probe_val_acc with a probe")
    return name


# objective -> (metric on the validation set, the training-set fallback, sign: maximised).
OBJECTIVES = {
    "val_acc": ("val_acc", "train_acc", 1.0),
    "val_loss": ("val_loss", "train_loss", -1.0),
    "probe_val_acc": ("probe_val_acc", "probe_train_acc", 1.0),
}


def objective(metrics: dict[str, Any]) -> float:
    """What a sweeper maximises: the run's `objective` on the validation set if there is one,
    else on the training set; never on the test set, which must stay unseen by model selection.
    A loss counts negated; a run that did not complete counts as the worst."""
    key, fallback, sign = OBJECTIVES[metrics.get("objective", "val_acc")]
    value = metrics.get(key)
    if value is None:
        value = metrics.get(fallback)
    if metrics["status"] != "completed" or value is None:
        return 0.0 if sign > 0 else float("-inf")
    return sign * float(value)


def _test_text(metrics: dict[str, Any]) -> str:
    """'test 97.81%', or the test loss for a task without accuracy."""
    if metrics.get("test_acc") is not None:
        return f"test {100 * metrics['test_acc']:.2f}%"
    return f"test loss {metrics['test_loss']:.4g}"


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


@guarded_task
def hydra_task(cfg: Any) -> float:
    """The Hydra task behind `fcnn train` (run and multirun).

    A single run that a signal stopped ends the process with 128 + the signal's number, after
    one line saying how far it got and how to resume it; a sweep's job returns, and the sweep
    ends (fcnn_cli.hydra_hooks) once the jobs not yet started have been skipped.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from fcnn_cli import interrupt

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    # `fcnn train` installed the signal guard at start (fcnn_cli.cli); a joblib sweep's worker
    # processes install it here, so their jobs too stop after the epoch on Ctrl-C. Jobs that
    # submitit starts (SLURM) keep submitit's own signal handling: SLURM ends a cancelled job as
    # before, and the launcher records it as failed; its last epoch's checkpoint stays.
    if "Joblib" in str(hydra_cfg.launcher.get("_target_", "")):
        interrupt.install(raising=False)
    metrics = train(cfg, run_dir, [str(o) for o in hydra_cfg.overrides.task])
    signum = interrupt.received()
    if signum is None or hydra_cfg.mode == RunMode.MULTIRUN:
        print(headline(metrics, run_dir), flush=True)
        return objective(metrics)
    if metrics["status"] != "interrupted":  # the signal came during the last epoch
        print(headline(metrics, run_dir), flush=True)
    print(interrupt.stopped_line(metrics, run_dir), file=sys.stderr, flush=True)
    interrupt.leave(signum)
