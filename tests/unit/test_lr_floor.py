"""The learning-rate floor warning: once, at the first epoch after which the rate is below a
millionth of its start, and only while epochs remain."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import pytest

from fcnn_cli.training.lr_floor import LearningRateWarning, LrFloor


def _epochs(lr: float, annealing: float, max_epochs: int):
    return [SimpleNamespace(epoch=e, lr=lr * annealing ** (e - 1)) for e in range(1, max_epochs + 1)]


def test_warns_once_at_the_epoch_the_rate_falls_below_a_millionth():
    s = SimpleNamespace(lr=0.1, annealing=0.9, max_epochs=600)
    watcher = LrFloor(s)
    first = math.ceil(math.log(1e-6) / math.log(0.9))  # 0.9**132 < 1e-6 <= 0.9**131
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for record in _epochs(s.lr, s.annealing, s.max_epochs):
            watcher.on_epoch_end(record)
    assert len(caught) == 1 and caught[0].category is LearningRateWarning
    assert f"after epoch {first} of 600" in str(caught[0].message)


@pytest.mark.parametrize("annealing, max_epochs", [(0.9, 132), (0.99, 600), (1.0, 5000)])
def test_no_warning_when_no_epoch_remains_or_the_rate_holds(annealing, max_epochs):
    s = SimpleNamespace(lr=0.1, annealing=annealing, max_epochs=max_epochs)
    watcher = LrFloor(s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for record in _epochs(s.lr, s.annealing, s.max_epochs):
            watcher.on_epoch_end(record)
