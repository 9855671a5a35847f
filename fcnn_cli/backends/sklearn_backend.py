"""Example 5.1: scikit-learn's own estimators, our config mapped onto their parameters.

The shared loop drives the estimator one epoch at a time through `partial_fit`, so it gets the
same sample order, learning-rate schedule, curves and outputs as every other backend. Scoring
and prediction run the task's formulas on the estimator's weights, as on every backend.
Which estimator is the task's (one entry per task in `ESTIMATORS`):

- classify: MLPClassifier. Its weights start from scikit-learn's own seeded Glorot
  initialisation (`random_state=seed`), as in the lab, so a run matches `MLPClassifier(...).fit`
  with the same settings; `init_range` is not used here.
- autoencoder: MLPRegressor with the mirrored layers, fitted to reproduce its input. Its
  identity output and squared loss are the task's: `_backprop` descends exactly the gradient of
  half the squared error summed over the outputs. scikit-learn's initialisation, as above.
- logreg: SGDClassifier(loss="log_loss"), scikit-learn's logistic regression by SGD. It starts
  from the shared seeded weights and steps after every sample (batch_size must be 1, checked in
  settings) in the loop's order at the loop's rate, so it follows the numpy backend's run with
  batch 1 to rounding.

For checkpoints (`get_state`, `set_state`) each estimator hands out what its next `partial_fit`
depends on, in the shape of `fcnn_cli.core.optim`: the weights as it keeps them (a two-class
MLPClassifier's single output unit included) and its optimizer's buffers (SGDOptimizer's
`velocities`, kept even without momentum; AdamOptimizer's `ms`, `vs` and `t`), the step being
the number of updates done. A resumed MLP is first built by a `partial_fit` on one batch (its
only public way to set up its layers and optimizer), then everything that batch changed is
overwritten with the saved state.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli.backends.base import BATCH_HOOK_EVERY, Backend, Params, check_state
from fcnn_cli.core import model, optim

if TYPE_CHECKING:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

def _mlp_parameters(settings: Settings, hidden: Sequence[int], n_train: int, shuffle: bool,
                    ) -> dict[str, Any]:
    opt = settings.optimizer
    kwargs: dict[str, Any] = {
        "hidden_layer_sizes": tuple(hidden),
        "activation": model.ACTIVATIONS[settings.activation].sklearn,
        "solver": opt.name,
        "alpha": opt.alpha,
        # Batches larger than the training set are one full batch, as in the other backends
        # (MLPClassifier would clip it too, with a warning at every epoch).
        "batch_size": min(settings.batch_size, n_train),
        "learning_rate_init": settings.lr,
        "max_iter": settings.max_epochs,
        "shuffle": shuffle,
        "random_state": settings.seed,
        # The loop decides when training stops; never MLPClassifier's tolerance test.
        "n_iter_no_change": settings.max_epochs + 1,
        "tol": 0.0,
    }
    if opt.name == "sgd":
        # "constant": the loop anneals the rate itself, by setting it before every epoch.
        kwargs.update(learning_rate="constant", momentum=opt.momentum,
                      nesterovs_momentum=opt.nesterov)
    else:
        kwargs.update(beta_1=opt.beta1, beta_2=opt.beta2, epsilon=opt.epsilon)
    return kwargs


def make_classifier(settings: Settings, n_train: int, *, shuffle: bool = False) -> MLPClassifier:
    """An MLPClassifier with `settings` mapped onto its parameters, for `n_train` samples.

    `shuffle=False` is what the backend uses: the loop hands it each epoch's samples already in
    the shared order. Tests build the reference `fit` with `shuffle=True` from the same mapping.
    """
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**_mlp_parameters(settings, settings.struct, n_train, shuffle))


def make_regressor(settings: Settings, hidden: Sequence[int], n_train: int, *,
                   shuffle: bool = False) -> MLPRegressor:
    """An MLPRegressor with hidden layers `hidden` and `settings` mapped as for the classifier."""
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(**_mlp_parameters(settings, hidden, n_train, shuffle))


class Estimator(ABC):
    """One scikit-learn estimator as the backend drives it: an epoch of `partial_fit` at a given
    rate, and its weights in the shared (W, b) form."""

    def __init__(self, backend: SklearnBackend) -> None:
        self.settings, self.data, self.task = backend.settings, backend.data, backend.task
        self._backend = backend

    @property
    def batch_hook(self) -> Callable[[int], None] | None:
        """The backend's (the loop's) per-batch hook, None when no progress is shown."""
        return self._backend.batch_hook

    @abstractmethod
    def fit_epoch(self, x: np.ndarray, y: np.ndarray, lr: float, momentum: float) -> None:
        """One pass over the rows of (x, y), in their order, at learning rate `lr` and (SGD)
        `momentum`."""

    @abstractmethod
    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current weights as (W, b) pairs, input layer first (views, not copies)."""

    def raw_params(self) -> Params:
        """The weights as the estimator keeps them (what a checkpoint saves); views."""
        return self.params()

    @abstractmethod
    def opt_state(self, updates: int) -> optim.OptState:
        """The estimator's optimizer state (copies), after `updates` updates."""

    @abstractmethod
    def set_state(self, params: Params, opt_state: optim.OptState, samples: int) -> None:
        """Go on from a saved state; `samples`: the training samples seen so far."""


class MLPEstimator(Estimator):
    """The MLP estimators' common part: the loop's learning rate set before every epoch."""

    mlp: Any

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, lr: float, momentum: float) -> None:
        mlp = self.mlp
        if hasattr(mlp, "_optimizer"):
            # The optimizer object lives across partial_fit calls; Adam recomputes its step from
            # learning_rate_init on every update, SGD uses learning_rate: set both.
            mlp._optimizer.learning_rate_init = lr
            mlp._optimizer.learning_rate = lr
            if hasattr(mlp._optimizer, "momentum"):  # SGDOptimizer reads it at every update
                mlp._optimizer.momentum = momentum
        else:  # first epoch: the optimizer is built from these
            mlp.set_params(learning_rate_init=lr,
                           **({"momentum": momentum} if mlp.solver == "sgd" else {}))
        if self.batch_hook is None:
            self._partial_fit(x, y)
            return
        # Progress within the epoch: scikit-learn has no per-batch callback, so its one
        # per-batch method is wrapped, on this instance and for this epoch only (it computes
        # the same; the update follows it).
        backprop, hook, done, batches = mlp._backprop, self.batch_hook, 0, 0

        def counted(x_batch: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            nonlocal done, batches
            out = backprop(x_batch, *args, **kwargs)
            done, batches = done + x_batch.shape[0], batches + 1
            if batches % BATCH_HOOK_EVERY == 0:
                hook(done)
            return out

        mlp._backprop = counted
        try:
            self._partial_fit(x, y)
        finally:
            del mlp._backprop

    @abstractmethod
    def _partial_fit(self, x: np.ndarray, y: np.ndarray) -> None: ...

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.mlp.coefs_, self.mlp.intercepts_, strict=True))

    def raw_params(self) -> Params:
        return MLPEstimator.params(self)

    def _slots(self) -> dict[str, list[np.ndarray]]:
        """The optimizer's per-parameter buffers by our names, each as scikit-learn orders them
        (every coefs_ array, then every intercepts_ array)."""
        opt = self.mlp._optimizer
        if self.settings.optimizer.name == "adam":
            return {"m": opt.ms, "v": opt.vs}
        return {"velocity": opt.velocities}

    def opt_state(self, updates: int) -> optim.OptState:
        n = len(self.mlp.coefs_)
        slots = {name: [(np.array(arrays[i]), np.array(arrays[n + i])) for i in range(n)]
                 for name, arrays in self._slots().items()}
        step = self.mlp._optimizer.t if self.settings.optimizer.name == "adam" else updates
        return optim.OptState(np.array(step, dtype=optim.STEP_DTYPE), slots)

    def set_state(self, params: Params, opt_state: optim.OptState, samples: int) -> None:
        if not hasattr(self.mlp, "_optimizer"):
            # Built by one partial_fit (layers, output function, label binarizer, optimizer);
            # all it changed that the next epochs read is overwritten below.
            rows = min(self.settings.batch_size, self.data.n_train)
            self._partial_fit(self.data.x_train[:rows], self.data.y_train[:rows])
        # scikit-learn keeps each buffer as one list, the weights' arrays then the biases'.
        live = {name: list(zip(flat[:len(flat) // 2], flat[len(flat) // 2:], strict=True))
                for name, flat in self._slots().items()}
        check_state(params, opt_state, self.raw_params(), live,
                    f"scikit-learn's {self.settings.optimizer.name}")
        for (w, b), (w_from, b_from) in zip(self.raw_params(), params, strict=True):
            w[...], b[...] = w_from, b_from
        opt = self.mlp._optimizer
        for name, pairs in opt_state.slots.items():
            arrays = [np.array(w) for w, _ in pairs] + [np.array(b) for _, b in pairs]
            setattr(opt, {"velocity": "velocities", "m": "ms", "v": "vs"}[name], arrays)
        if self.settings.optimizer.name == "adam":
            opt.t = int(opt_state.step)
        # scikit-learn's own counts, as partial_fit keeps them (t_: samples seen).
        self.mlp.t_ = samples
        self.mlp.loss_curve_ = []


class MLPClassifierEstimator(MLPEstimator):
    """MLPClassifier (task=classify)."""

    def __init__(self, backend: SklearnBackend) -> None:
        super().__init__(backend)
        self.mlp = make_classifier(self.settings, self.data.n_train)
        # partial_fit must know every class on its first call: a batch order or a small
        # training set may not show them all, and the output layer is sized from this.
        self.classes = np.arange(self.data.n_classes)

    def _partial_fit(self, x: np.ndarray, y: np.ndarray) -> None:
        self.mlp.partial_fit(x, y, classes=self.classes)

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current weights; a two-class MLPClassifier's in the softmax form of model.npz."""
        params = super().params()
        w, b = params[-1]
        if w.shape[1] == 1:
            # Two classes: MLPClassifier keeps one logistic output unit z. softmax([0, z]) equals
            # [1 - sigmoid(z), sigmoid(z)], so a zero column in front gives the same model in
            # the two-output softmax form every model.npz uses.
            params[-1] = (np.hstack([np.zeros_like(w), w]), np.concatenate([np.zeros_like(b), b]))
        return params


class MLPAutoencoder(MLPEstimator):
    """MLPRegressor with the mirrored hidden layers, fitted to reproduce its input."""

    def __init__(self, backend: SklearnBackend) -> None:
        super().__init__(backend)
        self.mlp = make_regressor(self.settings, self.task.hidden_sizes(), self.data.n_train)

    def _partial_fit(self, x: np.ndarray, y: np.ndarray) -> None:
        self.mlp.partial_fit(x, self.task.targets(np, x, y))


class SGDLogReg(Estimator):
    """SGDClassifier(loss="log_loss"): logistic regression by per-sample SGD (task=logreg)."""

    def __init__(self, backend: SklearnBackend) -> None:
        from sklearn.linear_model import SGDClassifier

        super().__init__(backend)
        self.sgd = SGDClassifier(
            loss="log_loss", penalty="l2", alpha=self.settings.optimizer.alpha, fit_intercept=True,
            learning_rate="constant", eta0=self.settings.lr, shuffle=False, tol=None,
            random_state=self.settings.seed,
        )
        # The shared seeded weights, in SGDClassifier's layout: partial_fit keeps coef_ and
        # intercept_ that are already there (in the data's dtype) instead of zeroing them.
        (w, b), = backend.initial_params()
        self.sgd.coef_ = np.ascontiguousarray(w.T)
        self.sgd.intercept_ = b.copy()

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, lr: float, momentum: float) -> None:
        del momentum  # plain SGD only (validate: momentum 0 with task=logreg)
        self.sgd.eta0 = lr  # read at every partial_fit: the loop's annealed rate
        self.sgd.partial_fit(x, y, classes=np.arange(2))

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(self.sgd.coef_.T, self.sgd.intercept_)]

    def opt_state(self, updates: int) -> optim.OptState:
        # Plain SGD keeps no buffers; SGDClassifier's t_ is 1 + the samples (= updates) seen.
        return optim.OptState(np.array(int(self.sgd.t_) - 1, dtype=optim.STEP_DTYPE), {})

    def set_state(self, params: Params, opt_state: optim.OptState, samples: int) -> None:
        check_state(params, opt_state, self.params(), {}, "SGDClassifier")
        (w, b), = params
        # In the saved dtype: partial_fit keeps float64 weights whatever the data's dtype.
        self.sgd.coef_ = np.array(np.asarray(w).T, order="C")
        self.sgd.intercept_ = np.array(b)
        self.sgd.t_ = float(int(opt_state.step) + 1)


# task name -> the estimator that trains it.
ESTIMATORS: dict[str, type[Estimator]] = {
    "classify": MLPClassifierEstimator,
    "autoencoder": MLPAutoencoder,
    "logreg": SGDLogReg,
}





class SklearnBackend(Backend):
    name = "sklearn"

    def __init__(self, settings: Settings, data: Dataset) -> None:
        super().__init__(settings, data)
        self.estimator = ESTIMATORS[self.task.name](self)
        self._diverged = False
        self._epochs = 0  # epochs trained (or restored), for the optimizer's update count

    def train_epoch(self, order: np.ndarray, lr: float, momentum: float | None = None) -> None:
        self._epochs += 1
        if self._diverged:
            return
        x, y = self.train_x[order], self.data.y_train[order]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow while diverging
                self.estimator.fit_epoch(x, y, lr, self.epoch_momentum(momentum))
        except ValueError:
            # scikit-learn refuses to finish an update that leaves non-finite weights; that is
            # divergence, which the loop reports from the (non-finite) training loss.
            if all(np.isfinite(a).all() for pair in self.estimator.params() for a in pair):
                raise
            self._diverged = True

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return model.logits(np, self.estimator.params(), x, self.settings.activation)

    def evaluate(self, split: str) -> tuple[float, float | None]:
        x, y = self.data.split(split)
        # Curve C from the logits with the task's loss, as every backend computes it:
        # log(predict_proba) would turn a confidently wrong sample into -inf (a false divergence).
        with np.errstate(all="ignore"):
            loss, correct = self.task.score(np, self._logits(x), x, y)
        n = x.shape[0]
        return float(loss) / n, None if correct is None else int(correct) / n

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.settings.dtype)
        with np.errstate(all="ignore"):
            return self.task.predict(np, self._logits(x))

    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(w.copy(), b.copy()) for w, b in self.estimator.params()]

    def _updates_per_epoch(self) -> int:
        return -(-self.data.n_train // min(self.settings.batch_size, self.data.n_train))

    def get_opt_state(self) -> optim.OptState:
        return self.estimator.opt_state(self._epochs * self._updates_per_epoch())

    def get_state(self) -> tuple[Params, optim.OptState]:
        # The estimator's own layout (get_params turns a two-class MLPClassifier's one output
        # unit into model.npz's two).
        return [(w.copy(), b.copy()) for w, b in self.estimator.raw_params()], self.get_opt_state()

    def set_state(self, params: Params, opt_state: optim.OptState) -> None:
        self._epochs = int(opt_state.step) // self._updates_per_epoch()
        self.estimator.set_state(params, opt_state, self._epochs * self.data.n_train)
