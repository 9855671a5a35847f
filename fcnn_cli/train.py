"""`fcnn train`: one run from a composed config to a filled run directory."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnn_cli.hydra_hooks import guarded_task

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcnn_cli.backends.base import Backend
    from fcnn_cli.datasets import Dataset
    from fcnn_cli.loop import EpochCallback, History
    from fcnn_cli.run_outputs import SavedModel
    from fcnn_cli.settings import Settings


def train(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Validate `cfg`, train, score and write the run's files to `run_dir`; return its metrics."""
    from fcnn_cli import datasets, probe, run_outputs, runs, settings, tasks, tracking

    s = settings.from_config(cfg)  # before any work: bad input costs nothing
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
    task = tasks.create(s, data)  # the checks that need the data, still before any training
    objective_name = resolve_objective(s.objective, task)
    probe_layer = probe.check(s.probe, task, data) if s.probe else None
    tracker = tracking.start(cfg, run_dir)  # None unless logger=mlflow
    backend, history = fit(s, data, callbacks=[tracker] if tracker else ())

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
        "versions": run_outputs.versions(),
    }
    params = backend.get_params()
    rows = history.rows()
    run_dir.mkdir(parents=True, exist_ok=True)
    out = runs.RunDir(run_dir)
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


def fit(s: Settings, data: Dataset, callbacks: Sequence[EpochCallback] = ()
        ) -> tuple[Backend, History]:
    """Train on `data` with the checked settings `s`: the backend `s` names, through the shared
    loop, which shows each epoch to `callbacks`. The one training path of `fcnn train` and
    `FCNNClassifier.fit`."""
    from fcnn_cli import backends, loop

    backend = backends.create(s, data)
    return backend, loop.run(backend, s, callbacks)


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
    """The Hydra task behind `fcnn train` (run and multirun)."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    metrics = train(cfg, run_dir)
    print(headline(metrics, run_dir), flush=True)
    return objective(metrics)
