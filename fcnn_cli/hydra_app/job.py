"""`fcnn train`: one run from a composed config to a filled run directory."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcnn_cli.runs.layout import RunDir
    from fcnn_cli.training.progress import Display


def train(cfg: Any, run_dir: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Validate `cfg`, train, score and write the run's files to `run_dir`; return its metrics.

    The run's checkpoint is written after an epoch when the last is `checkpoint.every_s` old,
    and after the first and the last (fcnn_cli.training.checkpoint.Checkpointer). With `resume`
    set, `run_dir` is the run to go on with: its own config is used, with what `overrides` (the
    command line's) may change (fcnn_cli.hydra_app.resume), and training continues from its
    checkpoint. A signal caught by fcnn_cli.training.interrupt ends training after the current
    epoch: the run is saved as interrupted, its last epoch checkpointed.
    """
    from fcnn_cli.errors import UsageError
    from fcnn_cli.runs import layout
    from fcnn_cli.training.progress import Display

    out = layout.RunDir(run_dir)
    with out.hold() as held:
        if not held:
            raise UsageError("resume", f"{run_dir} is being trained by another fcnn train right "
                                       "now; resume it once that has ended")
        display = Display()  # the status line, on once the settings say progress=true
        try:
            return _train(cfg, out, overrides, display)
        finally:
            display.clear()


def _train(cfg: Any, out: RunDir, overrides: Sequence[str], display: Display) -> dict[str, Any]:
    import contextlib

    from fcnn_cli.config import validate
    from fcnn_cli.core import tasks
    from fcnn_cli.data import datasets
    from fcnn_cli.errors import UsageError
    from fcnn_cli.hydra_app import resume, tracking
    from fcnn_cli.runs import curves, figures, model_file, record
    from fcnn_cli.training import checkpoint, interrupt, probe
    from fcnn_cli.training.fit import fit, saved_model
    from fcnn_cli.training.objective import objective_metric, resolve_objective

    run_dir = out.path
    guard = interrupt.current()
    saved = None
    # Until training begins a signal abandons the run at once (nothing to keep yet).
    with guard.setup() if guard is not None else contextlib.nullcontext():
        if cfg.get("resume") is not None:
            cfg = resume.run_config(cfg, out, list(overrides))
        s = validate.from_train_config(cfg)  # before any work: bad input costs nothing
        display.enabled = s.progress
        if s.resume is not None:
            saved = resume.load_checkpoint(out, s)
        data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes,
                             status=display.status)
        task = tasks.create(s, data)  # the checks that need the data, still before any training
        objective_name = resolve_objective(s.objective, task)
        probe_layer = probe.check(s.probe, task, data) if s.probe else None
        identity = checkpoint.run_record(s, data)
        if saved is not None:
            resume.check_matches(saved, identity, run_dir)
            display.note(resume.resuming_line(run_dir, saved.epoch, s.max_epochs))
        tracker = tracking.start(cfg, run_dir)  # None unless logger=mlflow
    checkpointer = checkpoint.Checkpointer(out.checkpoint, identity, every_s=s.checkpoint_every_s)
    extend = resume.MaxEpochs(out, s.max_epochs) if saved is not None else None
    callbacks = [c for c in (extend, tracker, checkpointer) if c is not None]
    try:
        backend, history = fit(s, data, callbacks, resume=saved,
                               stop=guard.requested if guard is not None else None, display=display)
    except checkpoint.CheckpointError as err:
        raise UsageError("resume", f"{err}; it cannot be resumed") from None
    if not history.records:  # stopped before a first epoch ended: nothing to keep
        raise interrupt.Interrupted(interrupt.received() or signal.SIGINT)

    display.status("scoring the test set and writing the run's files")
    backend.predict(data.x_test)  # warm-up: JIT backends compile here, not in the timing
    start = time.perf_counter()
    backend.predict(data.x_test)
    predict_seconds = time.perf_counter() - start

    last = history.kept  # the best epoch's record when early stopping restored its weights
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
        # with early stopping: the best epoch, whether and why training stopped early
        "early_stopping": history.stop,
        "versions": record.versions(),
    }
    params = backend.get_params()
    rows = history.rows()
    run_dir.mkdir(parents=True, exist_ok=True)
    model_file.save_model(out.model, saved_model(s, data, task.name, params))
    curves.write_curves(out.curves, rows, task.curve_columns)
    if s.plot:
        title = f"{s.backend} on {s.dataset}, struct {list(s.struct)}: {_test_text(metrics)}"
        figures.plot_curves(out.plot, rows, title, task.curve_columns, task.loss_label)
        figures.write_task_figures(run_dir, task.figures, backend.predict, data.x_test)
    if s.probe is not None and history.status == "completed":
        features = probe.hidden_features(params, s.activation, probe_layer)
        probe_metrics, probe_history = probe.run(s.probe, s, data, features, probe_layer)
        metrics.update(probe_metrics)
        curves.write_curves(out.probe_curves, probe_history.rows())
    metrics["objective"] = objective_name
    # What the objective was measured on (val_acc, or train_acc without a validation set), and
    # its value; null for a run that did not complete (a sweeper counts it as the worst).
    metrics["objective_metric"], metrics["objective_value"] = objective_metric(metrics)
    # metrics.json last: its presence marks a finished run for `fcnn report`.
    out.write_metrics(metrics)
    if tracker is not None:
        tracker.finish(metrics, run_dir)
    return metrics


def _test_text(metrics: dict[str, Any]) -> str:
    """'test 97.81%', or the test loss for a task without accuracy."""
    if metrics.get("test_acc") is not None:
        return f"test {100 * metrics['test_acc']:.2f}%"
    return f"test loss {metrics['test_loss']:.4g}"
