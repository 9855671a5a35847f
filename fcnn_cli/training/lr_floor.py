"""A warning, once and in one line, when annealing has taken the learning rate to nothing while
epochs remain: with the default annealing 0.9, lr is 7.5e-28 by epoch 572 and the loss has long
stopped moving."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.training.loop import EpochRecord


class LearningRateWarning(UserWarning):
    """The learning rate has annealed below LrFloor.FLOOR of its start while epochs remain."""


class LrFloor:
    """The loop's callback that warns (a LearningRateWarning: one line on fcnn's terminal, a
    Python warning for FCNNClassifier) when the next epoch's rate is below a millionth of `lr`."""

    FLOOR = 1e-6

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.warned = False

    def on_epoch_end(self, record: EpochRecord) -> None:
        next_lr = record.lr * self.s.annealing
        if self.warned or record.epoch >= self.s.max_epochs or next_lr >= self.FLOOR * self.s.lr:
            return
        self.warned = True
        warnings.warn(
            f"after epoch {record.epoch} of {self.s.max_epochs} the learning rate is "
            f"{next_lr:.2g}, below a millionth of its start ({self.s.lr:g}): annealing "
            f"{self.s.annealing:g} has stopped training; raise annealing (1 keeps lr) or lower "
            "max_epochs", LearningRateWarning, stacklevel=2)
