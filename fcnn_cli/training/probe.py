"""The probe: how good are a trained net's hidden features for telling two classes apart?

After training, `probe.layer=K probe.classes=[3,8]` maps the images of those two classes through
the trained net up to hidden layer K (a transform of the data, not a new backend), standardises
the features with the training images' mean and spread, and trains Problem 5.1's logistic
regression on them: `task=logreg` on the numpy backend, through the same loop, on the run's own
training images of those classes; the run's validation images (when `val_fraction` is set) give
the probe's validation accuracy, which a sweep can optimise (`objective=probe_val_acc`); all
test images of the two classes give its test accuracy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli.errors import UsageError

if TYPE_CHECKING:
    from fcnn_cli.config.settings import ProbeSettings, Settings
    from fcnn_cli.core.tasks import Task
    from fcnn_cli.data.dataset import Dataset
    from fcnn_cli.training.loop import History

Features = Callable[[np.ndarray], np.ndarray]


def resolve_layer(probe: ProbeSettings, task: Task) -> int:
    """The hidden layer the probe reads (1 = the first), checked against the net's depth."""
    hidden = task.hidden_sizes()
    layer = task.code_layer() if probe.layer == "code" else int(probe.layer)
    if not 1 <= layer <= len(hidden):
        sizes = "[" + ",".join(map(str, hidden)) + "]"
        raise UsageError(
            "probe.layer",
            f"the net has {len(hidden)} hidden layer{'s' if len(hidden) != 1 else ''} {sizes}: "
            f"probe.layer must be in 1..{len(hidden)} or code; got {probe.layer}"
            if hidden else f"task={task.name} with struct=[] has no hidden layer to probe",
        )
    return layer


def class_indices(classes: Sequence[int], data: Dataset) -> list[int]:
    """The run's label of each of the probe's classes (the dataset's own labels)."""
    missing = [c for c in classes if c not in data.classes]
    if missing:
        raise UsageError(
            "probe.classes",
            f"{', '.join(map(str, missing))} not among the run's classes (dataset.classes: "
            f"{', '.join(map(str, data.classes))})",
        )
    return [data.classes.index(c) for c in classes]


def check(probe: ProbeSettings, task: Task, data: Dataset) -> int:
    """Every check of a probe before training: returns the resolved layer."""
    class_indices(probe.classes, data)
    return resolve_layer(probe, task)


def hidden_features(params: Sequence[tuple[np.ndarray, np.ndarray]], activation: str,
                    layer: int) -> Features:
    """x -> the trained net's hidden layer `layer` for the rows of x."""
    from fcnn_cli.core import model

    def transform(x: np.ndarray) -> np.ndarray:
        return model.hidden(np, list(params), x, layer, activation)

    return transform


def probe_dataset(data: Dataset, classes: Sequence[int], transform: Features) -> Dataset:
    """The rows of `classes` of every split, relabelled 0, 1 in that order, through `transform`,
    then standardised with the training rows' mean and standard deviation."""
    from fcnn_cli.data.dataset import Dataset

    labels = class_indices(classes, data)
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("train", "val", "test"):
        if name == "val" and not data.has_val:
            continue
        x, y = data.split(name)
        new = np.full(data.n_classes, -1, dtype=np.int64)
        new[labels] = np.arange(len(labels))
        keep = new[y] >= 0
        splits[name] = (transform(x[keep]), new[y[keep]])
    x_train = splits["train"][0]
    mean = x_train.mean(axis=0)
    spread = x_train.std(axis=0)
    spread[spread == 0] = 1  # a unit that never varies (a dead ReLU) stays at zero
    scaled = {name: ((x - mean) / spread).astype(data.x_train.dtype, copy=False)
              for name, (x, _) in splits.items()}
    val = splits.get("val")
    return Dataset(
        name=data.name, x_train=scaled["train"], y_train=splits["train"][1],
        x_test=scaled["test"], y_test=splits["test"][1], n_classes=2,
        x_val=None if val is None else scaled["val"], y_val=None if val is None else val[1],
        classes=tuple(classes),
    )


def logreg_settings(probe: ProbeSettings, run: Settings) -> Settings:
    """Problem 5.1's logistic regression with the probe's schedule, on the numpy backend."""
    from fcnn_cli.config.settings import Settings

    return Settings(
        backend="numpy", dataset=run.dataset, dataset_path=run.dataset_path, struct=(),
        init_range=run.init_range, lr=probe.lr, annealing=probe.annealing,
        max_epochs=probe.max_epochs, batch_size=probe.batch_size, seed=run.seed, dtype=run.dtype,
        progress=run.progress, plot=False, task="logreg",
    )


def fit_logreg(pdata: Dataset, settings: Settings) -> History:
    """Train the logistic regression on `pdata` through the shared loop."""
    from fcnn_cli import backends
    from fcnn_cli.training import loop

    return loop.run(backends.create(settings, pdata), settings)


def run(probe: ProbeSettings, settings: Settings, data: Dataset, transform: Features,
        layer: int) -> tuple[dict[str, Any], History]:
    """Fit and score the probe on the features `transform` gives; (metrics, the logreg's curves).

    The metrics are flat `probe_*` keys for metrics.json and the report.
    """
    start = time.perf_counter()
    pdata = probe_dataset(data, probe.classes, transform)
    feature_seconds = time.perf_counter() - start
    history = fit_logreg(pdata, logreg_settings(probe, settings))
    last = history.last
    metrics = {
        "probe_layer": layer,
        "probe_classes": list(probe.classes),
        "probe_features": int(pdata.n_features),
        "probe_status": history.status,
        "probe_train_loss": last.train_loss,
        "probe_train_acc": last.train_acc,
        "probe_val_acc": last.val_acc,
        "probe_test_acc": last.test_acc,
        "probe_test_errors": round((1 - last.test_acc) * pdata.x_test.shape[0]),
        "probe_n_train": int(pdata.n_train),
        "probe_n_val": 0 if pdata.x_val is None else int(pdata.x_val.shape[0]),
        "probe_n_test": int(pdata.x_test.shape[0]),
        "probe_epochs": len(history.records),
        "probe_lr": probe.lr,
        "probe_batch_size": probe.batch_size,
        "probe_feature_seconds": feature_seconds,
        "probe_fit_seconds": history.fit_seconds,
    }
    return metrics, history
