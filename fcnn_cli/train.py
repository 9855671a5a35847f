"""`fcnn train`: one run from a composed config to a filled run directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fcnn_cli.errors import exits_on_usage_error


def train(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Validate `cfg`, train, score and write the run's files to `run_dir`; return its metrics."""
    from fcnn_cli import backends, datasets, loop, run_outputs, settings, tracking

    s = settings.from_config(cfg)  # before any work: bad input costs nothing
    tracker = tracking.start(cfg, run_dir)  # None unless logger=mlflow
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed)
    backend = backends.create(s, data)
    history = loop.run(backend, s, callbacks=[tracker] if tracker else ())

    backend.predict(data.x_test)  # warm-up: JIT backends compile here, not in the timing
    start = time.perf_counter()
    backend.predict(data.x_test)
    predict_seconds = time.perf_counter() - start

    last = history.last
    metrics: dict[str, Any] = {
        "backend": s.backend,
        "device": backend.device,
        "dataset": s.dataset,
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
        "n_train": data.n_train,
        "n_val": 0 if data.x_val is None else int(data.x_val.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "fit_seconds": history.fit_seconds,
        "compile_seconds": backend.compile_seconds,
        "predict_seconds": predict_seconds,
        "versions": run_outputs.versions(),
    }
    rows = history.rows()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_outputs.save_model(run_dir / "model.npz", backend.get_params(), s.activation, data.n_classes)
    run_outputs.write_curves(run_dir / "curves.csv", rows)
    if s.plot:
        title = f"{s.backend} on {s.dataset}, struct {list(s.struct)}: test {100 * last.test_acc:.2f}%"
        run_outputs.plot_curves(run_dir / "curves.png", rows, title)
    # metrics.json last: its presence marks a finished run for `fcnn report`.
    run_outputs.write_json(run_dir / "metrics.json", metrics)
    if tracker is not None:
        tracker.finish(metrics, run_dir)
    return metrics


def objective(metrics: dict[str, Any]) -> float:
    """What a sweeper optimises: validation accuracy if there is a validation set, else training
    accuracy; never the test accuracy, which must stay unseen by model selection."""
    value = metrics["val_acc"] if metrics.get("val_acc") is not None else metrics["train_acc"]
    return float(value) if metrics["status"] == "completed" else 0.0


@exits_on_usage_error
def hydra_task(cfg: Any) -> float:
    """The Hydra task behind `fcnn train` (run and multirun)."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    metrics = train(cfg, run_dir)
    state = "" if metrics["status"] == "completed" else f" ({metrics['status']})"
    print(f"test accuracy {100 * metrics['test_acc']:.2f}%{state}; run directory {run_dir}", flush=True)
    return objective(metrics)
