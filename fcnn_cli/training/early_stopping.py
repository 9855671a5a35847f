"""Early stopping as scikit-learn's MLPClassifier does it (`early_stopping`, `n_iter_no_change`,
`tol`), on every backend, in the shared loop.

After every epoch the validation score is compared with the best so far: the accuracy, or the
loss negated for a task without accuracy. An epoch whose score is below best + min_delta counts
one more epoch without improvement; any other resets the count. A score above the best (by any
amount) becomes the best, and the weights of that epoch are kept. When `patience` epochs in a row
have not improved, training ends; with `restore_best` the net ends on the best epoch's weights.

The count, the best score, its epoch and its weights are loop state: a checkpoint saves them
(fcnn_cli.training.checkpoint), so a resumed run stops where the uninterrupted one would have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend, Params
    from fcnn_cli.config.settings import EarlyStoppingSettings
    from fcnn_cli.core.tasks import Task

#: the task's metric -> (what early stopping watches, sign: +1 higher is better, -1 a loss)
WATCHED: dict[str | None, tuple[str, float]] = {"acc": ("val_acc", 1.0), None: ("val_loss", -1.0)}


@dataclass
class EarlyStopping:
    """The early-stopping state between two epochs."""

    settings: EarlyStoppingSettings
    metric: str
    sign: float
    best_score: float = -math.inf
    best_epoch: int = 0
    #: epochs in a row without an improvement of at least min_delta
    wait: int = 0
    #: why training ended early (None: it has not)
    reason: str | None = None
    best_params: Params | None = field(default=None, repr=False)

    def update(self, epoch: int, value: float | None, backend: Backend) -> None:
        """Take epoch `epoch`, just trained (its weights are the backend's now), whose watched
        metric (`self.metric`) is `value`."""
        score = self.sign * value if value is not None and math.isfinite(value) else -math.inf
        # scikit-learn's rule: below best + tol counts as no improvement; above best is the best.
        self.wait = self.wait + 1 if score < self.best_score + self.settings.min_delta else 0
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            if self.settings.restore_best:
                self.best_params = backend.get_state()[0]  # copies, as the backend keeps them
        if self.wait >= self.settings.patience:
            self.reason = (f"no improvement of {self.metric} by {self.settings.min_delta:g} in "
                           f"{self.settings.patience} epochs")

    def finish(self, backend: Backend, epochs: int) -> dict[str, Any]:
        """After the loop: put the best epoch's weights into the backend (with restore_best);
        returns what metrics.json says about it."""
        restored = bool(self.settings.restore_best and self.best_params is not None
                        and self.best_epoch != epochs)
        if restored:
            backend.set_state(self.best_params, backend.get_opt_state())
        return {"metric": self.metric, "patience": self.settings.patience,
                "min_delta": self.settings.min_delta, "best_epoch": self.best_epoch,
                "stopped_epoch": epochs if self.reason else None, "reason": self.reason,
                "restored_best": restored}

    # --- in a checkpoint: JSON and the best weights -------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "wait": self.wait,
                "reason": self.reason}

    def load(self, state: dict[str, Any], best_params: Params | None) -> None:
        self.best_score = float(state["best_score"])
        self.best_epoch, self.wait = int(state["best_epoch"]), int(state["wait"])
        self.reason = state["reason"]
        self.best_params = best_params


def create(settings: EarlyStoppingSettings | None, task: Task) -> EarlyStopping | None:
    """The early-stopping state before the first epoch; None when it is off."""
    if settings is None:
        return None
    return EarlyStopping(settings, *WATCHED[task.metric])
