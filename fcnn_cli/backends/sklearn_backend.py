"""Example 5.1: scikit-learn's MLPClassifier, our config mapped onto its parameters.

The shared loop drives it one epoch at a time through `partial_fit`, so it gets the same batch
order, learning-rate schedule, curves and outputs as every other backend. Its weights start
from scikit-learn's own seeded Glorot initialisation (`random_state=seed`), as in the lab, so a
run matches `MLPClassifier(...).fit` with the same settings; `init_range` is not used here.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli import model
from fcnn_cli.backends.base import Backend

if TYPE_CHECKING:
    from sklearn.neural_network import MLPClassifier

    from fcnn_cli.datasets import Dataset
    from fcnn_cli.settings import Settings

# Our activation names -> MLPClassifier's.
ACTIVATIONS = {"relu": "relu", "sigmoid": "logistic", "tanh": "tanh"}


def make_classifier(settings: Settings, n_train: int, *, shuffle: bool = False) -> MLPClassifier:
    """An MLPClassifier with `settings` mapped onto its parameters, for `n_train` samples.

    `shuffle=False` is what the backend uses: the loop hands it each epoch's samples already in
    the shared order. Tests build the reference `fit` with `shuffle=True` from the same mapping.
    """
    from sklearn.neural_network import MLPClassifier

    opt = settings.optimizer
    kwargs: dict[str, Any] = {
        "hidden_layer_sizes": settings.struct,
        "activation": ACTIVATIONS[settings.activation],
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
    return MLPClassifier(**kwargs)


class SklearnBackend(Backend):
    name = "sklearn"

    def __init__(self, settings: Settings, data: Dataset) -> None:
        super().__init__(settings, data)
        self.clf = make_classifier(settings, data.n_train)
        # partial_fit must know every class on its first call: a batch order or a small
        # training set may not show them all, and the output layer is sized from this.
        self.classes = np.arange(data.n_classes)
        self._diverged = False

    def train_epoch(self, order: np.ndarray, lr: float) -> None:
        if self._diverged:
            return
        clf = self.clf
        if hasattr(clf, "_optimizer"):
            # The optimizer object lives across partial_fit calls; Adam recomputes its step from
            # learning_rate_init on every update, SGD uses learning_rate: set both.
            clf._optimizer.learning_rate_init = lr
            clf._optimizer.learning_rate = lr
        else:
            clf.set_params(learning_rate_init=lr)  # first epoch: the optimizer is built from it
        x, y = self.data.x_train[order], self.data.y_train[order]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow while diverging
                clf.partial_fit(x, y, classes=self.classes)
        except ValueError:
            # MLPClassifier refuses to finish an update that leaves non-finite weights; that is
            # divergence, which the loop reports from the (non-finite) training loss.
            if all(np.isfinite(w).all() for w in (*clf.coefs_, *clf.intercepts_)):
                raise
            self._diverged = True

    def _params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The current weights in the softmax form of model.npz (views, not copies)."""
        params = list(zip(self.clf.coefs_, self.clf.intercepts_, strict=True))
        w, b = params[-1]
        if w.shape[1] == 1:
            # Two classes: MLPClassifier keeps one logistic output unit z. softmax([0, z]) equals
            # [1 - sigmoid(z), sigmoid(z)], so a zero column in front gives the same model in
            # the two-output softmax form every model.npz uses.
            params[-1] = (np.hstack([np.zeros_like(w), w]), np.concatenate([np.zeros_like(b), b]))
        return params

    def evaluate(self, split: str) -> tuple[float, float]:
        x, y = self.data.split(split)
        # Curve C from the logits with the shared log-softmax, as every backend computes it:
        # log(predict_proba) would turn a confidently wrong sample into -inf (a false divergence).
        with np.errstate(all="ignore"):
            logits = model.logits(np, self._params(), x, self.settings.activation)
            logp = model.log_softmax(np, logits)
        loss = -float(logp[np.arange(y.shape[0]), y].mean(dtype=np.float64))
        return loss, float(np.mean(logits.argmax(axis=1) == y))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.clf.predict(np.asarray(x, dtype=self.settings.dtype))

    def get_params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(w.copy(), b.copy()) for w, b in self._params()]
