"""`FCNNClassifier`: the lab's FCNN as a scikit-learn classifier, on any of the four backends.

Its parameters are the config keys of `fcnn train` (the optimizer's settings flat: `momentum`,
`alpha`, ...). `fit` builds the same config mapping the CLI composes and goes through the same
path: `validate.from_config` checks it (a bad value is a ValueError naming the parameter),
`datasets.from_arrays` holds the data (with the CLI's seeded validation split when
`val_fraction` > 0), and `fcnn_cli.training.fit.fit` trains the backend through the shared
loop. The trained net is the record model.npz holds (`model_file.SavedModel`), run by
`fcnn_cli.inference.apply` for `predict` and `predict_proba`, as `fcnn predict` runs it; so
`save` writes the CLI's model file, and `from_run` loads any run's.

    from fcnn_cli import FCNNClassifier
    clf = FCNNClassifier(backend="numpy", struct=(64,), max_epochs=20).fit(X_train, y_train)
    clf.score(X_test, y_test)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from fcnn_cli.errors import UsageError

# Config keys the estimator's flat parameters stand for (the others are top-level keys).
NESTED = {"backend": ("backend", "name"), "device": ("device", "name"),
          "optimizer": ("optimizer", "name"), "momentum": ("optimizer", "momentum"),
          "nesterov": ("optimizer", "nesterov"), "alpha": ("optimizer", "alpha"),
          "momentum_start": ("optimizer", "momentum_start"),
          "momentum_epochs": ("optimizer", "momentum_epochs"),
          "beta1": ("optimizer", "beta1"), "beta2": ("optimizer", "beta2"),
          "epsilon": ("optimizer", "epsilon"),
          "dropout": ("dropout", "hidden"), "input_dropout": ("dropout", "input"),
          "dropout_noise": ("dropout", "noise"),
          "adversarial_eps": ("adversarial", "eps"), "adversarial_norm": ("adversarial", "norm"),
          "adversarial_weight": ("adversarial", "weight"),
          "schedule": ("schedule", "name"), "schedule_every": ("schedule", "every"),
          "schedule_factor": ("schedule", "factor"), "min_lr": ("schedule", "min_lr"),
          "warmup_epochs": ("schedule", "warmup_epochs"),
          "patience": ("early_stopping", "patience"),
          "min_delta": ("early_stopping", "min_delta"),
          "restore_best": ("early_stopping", "restore_best")}


class FCNNClassifier(ClassifierMixin, BaseEstimator):
    """A fully connected network classifier trained by fcnn's backends (numpy, jax, jax-grad,
    sklearn), scikit-learn compatible.

    Parameters are `fcnn train`'s config keys, with its defaults (docs/reference/config.md);
    nested keys go flat: `momentum_start` and `momentum_epochs` (optimizer.*: the momentum's
    rise), `dropout` (dropout.hidden), `input_dropout`, `dropout_noise`, `adversarial_eps`,
    `adversarial_norm` and `adversarial_weight` (adversarial.*), `schedule` (schedule.name),
    `schedule_every`, `schedule_factor`, `min_lr`, `warmup_epochs`, and early stopping's
    `patience` (None: off; it needs val_fraction > 0, like scikit-learn's n_iter_no_change with
    early_stopping=True), `min_delta` (its tol) and `restore_best`. `threads` holds the BLAS to
    that many threads while fitting (None: what the machine gives): the same count, the same
    weights. augment.* (shifts and distortions) is the CLI's alone: the estimator's rows carry
    no image shape to move.
    Inputs are used as given (scale them, e.g. in a Pipeline); labels may be any values.

    Attributes after `fit` (or `from_run`): `classes_`, `n_features_in_`, `loss_curve_`
    (training loss per epoch, curve C), `validation_scores_` (validation accuracy per epoch when
    val_fraction > 0, else None), `n_iter_` (epochs run), `coefs_` and `intercepts_` (the
    weights, input layer first), and `history_`: one dict per epoch (`epoch`, `lr`, `train_loss`,
    `train_acc`, `val_loss` and `val_acc` with val_fraction > 0, `test_*` where a test set was
    scored (a run's), `seconds`: training time so far); `history_frame()` is it as a DataFrame.
    """

    def __init__(self, backend: str = "jax", struct: Any = (500, 250), activation: str = "relu",
                 init_range: float = 1.0, lr: float = 0.1, annealing: float = 0.9,
                 max_epochs: int = 5, batch_size: int = 50, optimizer: str = "sgd",
                 momentum: float = 0.0, nesterov: bool = False, momentum_start: float = 0.5,
                 momentum_epochs: int = 0, alpha: float = 0.0,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, seed: int = 1,
                 dtype: str = "float32", device: str = "cpu", val_fraction: float = 0.0,
                 dropout: float = 0.0, input_dropout: float = 0.0, dropout_noise: str = "bernoulli",
                 adversarial_eps: float = 0.0, adversarial_norm: str = "linf",
                 adversarial_weight: float = 0.5, max_norm: float | None = None,
                 label_smoothing: float = 0.0,
                 schedule: str = "exponential", schedule_every: int = 10,
                 schedule_factor: float = 0.5, min_lr: float = 0.0, warmup_epochs: int = 0,
                 patience: int | None = None, min_delta: float = 1e-4, restore_best: bool = True,
                 threads: int | None = None, progress: bool = False) -> None:
        self.backend = backend
        self.struct = struct
        self.activation = activation
        self.init_range = init_range
        self.lr = lr
        self.annealing = annealing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.nesterov = nesterov
        self.momentum_start = momentum_start
        self.momentum_epochs = momentum_epochs
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.seed = seed
        self.dtype = dtype
        self.device = device
        self.val_fraction = val_fraction
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.dropout_noise = dropout_noise
        self.adversarial_eps = adversarial_eps
        self.adversarial_norm = adversarial_norm
        self.adversarial_weight = adversarial_weight
        self.max_norm = max_norm
        self.label_smoothing = label_smoothing
        self.schedule = schedule
        self.schedule_every = schedule_every
        self.schedule_factor = schedule_factor
        self.min_lr = min_lr
        self.warmup_epochs = warmup_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.threads = threads
        self.progress = progress

    # --- the config the CLI would compose ---------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """The parameters as the mapping `fcnn train` composes (task classify, no plot)."""
        config: dict[str, Any] = {"task": {"name": "classify"}, "plot": False}
        for name, value in self.get_params(deep=False).items():
            if name == "struct" and isinstance(value, list | tuple | np.ndarray):
                value = [v.item() if isinstance(v, np.generic) else v for v in value]
            elif isinstance(value, np.generic):
                value = value.item()
            if name in NESTED:
                group, key = NESTED[name]
                config.setdefault(group, {})[key] = value
            else:
                config[name] = value
        return config

    @staticmethod
    def _error(err: UsageError) -> ValueError:
        """A config error as a ValueError naming the estimator's parameter."""
        key = err.key
        for name, (group, nested) in NESTED.items():
            if key in (f"{group}.{nested}", group if nested == "name" else None):
                key = name
                break
        return ValueError(f"FCNNClassifier: {key}: {err.message}")

    # --- fitting -----------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> FCNNClassifier:
        """Train on the rows of X (n_samples x n_features) with labels y; returns self."""
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        from fcnn_cli.config import validate
        from fcnn_cli.data import dataset, datasets
        from fcnn_cli.training.fit import fit, saved_model

        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"FCNNClassifier needs samples of at least two classes; got 1 class "
                             f"({classes[0]!r})")
        shape = dataset.Shape(n_train=X.shape[0], n_test=0, n_features=X.shape[1],
                               n_classes=classes.size)
        try:
            s = validate.from_config(self._config(), data_shape=shape)
            data = datasets.from_arrays(X, y_index, classes.size, s.dtype, s.val_fraction, s.seed)
            backend, history = fit(s, data)
        except UsageError as err:
            raise self._error(err) from None
        self._set_fitted(saved_model(s, data, backend.task.name, backend.get_params(),
                                           classes=classes),
                         [r.train_loss for r in history.records],
                         [r.val_acc for r in history.records] if data.has_val else None,
                         _known_columns(history.rows()))
        if history.status != "completed":
            warnings.warn(f"FCNNClassifier: training diverged at epoch {len(history.records)} "
                          f"(the training loss is not finite); try a smaller lr", RuntimeWarning,
                          stacklevel=2)
        return self

    def _set_fitted(self, saved: Any, loss_curve: list[float],
                    validation_scores: list[float | None] | None,
                    history: list[dict[str, Any]] | None = None) -> None:
        self._model = saved
        self.classes_ = np.asarray(saved.classes)
        self.n_features_in_ = saved.n_features
        self.coefs_ = [w for w, _ in saved.params]
        self.intercepts_ = [b for _, b in saved.params]
        self.loss_curve_ = list(loss_curve)
        self.validation_scores_ = validation_scores
        self.n_iter_ = len(loss_curve)
        self.history_ = history if history is not None else [
            {"epoch": epoch, "train_loss": loss} for epoch, loss in enumerate(loss_curve, 1)]

    def history_frame(self) -> Any:
        """`history_` as a pandas DataFrame, one row per epoch, indexed by epoch."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        import pandas as pd  # only when a DataFrame is asked for

        return pd.DataFrame(self.history_).set_index("epoch")

    # --- predicting --------------------------------------------------------------------------------

    def _logits(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted, validate_data

        from fcnn_cli.inference import apply

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return apply.logits(self._model, apply.features(self._model, X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each row's probability of every class, columns in the order of `classes_`."""
        from fcnn_cli.inference import apply

        logits = self._logits(X)  # first: it checks that the estimator is fitted
        return apply.probabilities(self._model, logits)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (labels from `classes_`)."""
        from fcnn_cli.inference import apply

        logits = self._logits(X)  # first: it checks that the estimator is fitted
        return self.classes_[apply.class_indices(self._model, logits)]

    # --- the model file ------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model as `directory`/model.npz, the format every run writes (and
        `fcnn predict` and `fcnn evaluate --dataset` read), with the parameters beside it in
        estimator.json; returns the model file's path. Never overwrites a model file."""
        from sklearn.utils.validation import check_is_fitted

        from fcnn_cli._version import __version__
        from fcnn_cli.runs import model_file
        from fcnn_cli.runs.layout import RunDir
        from fcnn_cli.runs.record import write_json

        check_is_fitted(self)
        run = RunDir(Path(directory))
        run.path.mkdir(parents=True, exist_ok=True)
        if run.model.exists():
            raise FileExistsError(f"{run.model} exists; save to a new directory")
        model_file.save_model(run.model, self._model)
        write_json(run.estimator, {"estimator": type(self).__name__, "fcnn": __version__,
                                   "params": self._config_params(), "loss_curve": self.loss_curve_,
                                   "history": self.history_})
        return run.model

    def _config_params(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        if isinstance(params["struct"], tuple | np.ndarray):
            params["struct"] = list(params["struct"])
        return params

    @classmethod
    def from_run(cls, run_dir: str | Path) -> FCNNClassifier:
        """A fitted estimator from a run directory of `fcnn train` (any backend; task classify or
        logreg) or a directory `save` wrote: its model.npz, with the run's settings as the
        parameters. Its inputs are the run's raw inputs: a model trained on MNIST takes pixels
        0..255, divided by 255 as in training (the file's input_divisor)."""
        from fcnn_cli.inference import apply
        from fcnn_cli.runs import curves
        from fcnn_cli.runs.layout import RunDir

        run = RunDir(Path(run_dir))
        if not run.path.is_dir():
            raise FileNotFoundError(f"{run.path}: no such directory")
        try:
            run.check_model()
        except UsageError as err:
            raise ValueError(err.message) from None
        saved = run.read_model()  # ModelFormatError is a ValueError
        if not apply.has_classes(saved):
            raise ValueError(f"{run.model} is a task={saved.task} model, not a classifier")
        if saved.input_divisor is None:
            raise ValueError(f"{run.model} was written before model files recorded their input "
                             "scaling, and the run's config does not name a dataset")
        estimator = cls(**_run_params(run, cls().get_params(deep=False)))
        loss_curve: list[float] = []
        history = None
        if run.curves.is_file():
            history = [{key: int(value) if key == "epoch" else value for key, value in row.items()}
                       for row in curves.read_curves(run.curves)]
            loss_curve = [row["train_loss"] for row in history]
        elif (saved_params := run.read_estimator()) is not None:
            loss_curve = list(saved_params.get("loss_curve") or [])
            if isinstance(saved_params.get("history"), list):
                history = saved_params["history"]
        estimator._set_fitted(saved, loss_curve, None, history)
        return estimator


#: history_'s columns in this order (curves.csv's, with each split's loss beside its accuracy)
HISTORY_ORDER = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                 "test_acc", "seconds")


def _known_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each epoch's record without the columns no epoch has a value for (no test set given to
    `fit`, no validation set)."""
    columns = sorted(rows[0] if rows else {},
                     key=lambda k: HISTORY_ORDER.index(k) if k in HISTORY_ORDER else len(HISTORY_ORDER))
    known = [key for key in columns if any(row[key] is not None for row in rows)]
    return [{key: row[key] for key in known} for row in rows]


def _run_params(run: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """The estimator's parameters of a run (its config) or a saved estimator (estimator.json);
    what neither names keeps its default."""
    saved = run.read_estimator()
    if saved is not None and isinstance(saved.get("params"), dict):
        params = {k: v for k, v in saved["params"].items() if k in defaults}
        if isinstance(params.get("struct"), list):
            params["struct"] = tuple(params["struct"])
        return params
    config = run.read_config()
    params = {}
    if isinstance(config, dict):
        for name in defaults:
            group, key = NESTED.get(name, (name, None))
            value = config.get(group)
            if key is not None:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                params[name] = tuple(value) if name == "struct" else value
    params["progress"] = False
    return params
