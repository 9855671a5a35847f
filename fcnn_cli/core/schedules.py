"""The learning rate of every epoch: a pure function of the epoch number and the settings.

    rate(settings, epoch)      # epoch 1 is the first

Three schedules (`schedule.name`), each after an optional linear warm-up of
`schedule.warmup_epochs` epochs W, during which epoch e (1..W) trains at lr * e / (W + 1), so
that the ramp rises evenly into the schedule's first rate, lr. The schedule then counts its own
epochs k = e - W from 1:

| schedule | epoch k's rate |
|---|---|
| `exponential` | lr * annealing^(k-1): the lab's per-epoch annealing (the default) |
| `step` | lr * factor^floor((k-1) / every) |
| `cosine` | min_lr + (lr - min_lr) (1 + cos(pi (k-1) / K)) / 2 |

K = max_epochs - W: the cosine falls over the epochs after the warm-up, and stays at min_lr
beyond them (a run extended on resume).

Exponential is computed as the loop always computed it, one multiplication per epoch from lr
(`lr * a * a ...`, not `lr * a**(k-1)`, which may differ in the last bit), so every existing run
trains at the very same rates. Being a function of the epoch, a schedule needs nothing in a
checkpoint: a resumed run computes the rates the uninterrupted one used.

SGD's momentum may rise the same way (`momentum(settings, epoch)`), as Srivastava et al. 2014
raise it from 0.5 to its final value: over `optimizer.momentum_epochs` epochs E, epoch e (1..E)
trains at start + (momentum - start) (e - 1) / E, and every later epoch at `optimizer.momentum`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings

def _exponential(s: Settings, k: int, left: int) -> float:
    lr = s.lr
    for _ in range(k - 1):  # the loop's recurrence, bit for bit
        lr = lr * s.annealing
    return lr


def _step(s: Settings, k: int, left: int) -> float:
    return s.lr * s.schedule.factor ** ((k - 1) // s.schedule.every)


def _cosine(s: Settings, k: int, left: int) -> float:
    low = s.schedule.min_lr
    if k > left:
        return low
    return low + (s.lr - low) * (1 + math.cos(math.pi * (k - 1) / left)) / 2


#: schedule name (schema.SCHEDULE_NAMES) -> its rate(settings, k: its own epoch from 1,
#: K: its epochs after the warm-up)
SCHEDULES: dict[str, Callable[[Settings, int, int], float]] = {
    "exponential": _exponential, "step": _step, "cosine": _cosine}


def rate(s: Settings, epoch: int) -> float:
    """The learning rate epoch `epoch` (1 = the first) trains at."""
    warmup = s.schedule.warmup_epochs
    if epoch <= warmup:
        return s.lr * epoch / (warmup + 1)
    return SCHEDULES[s.schedule.name](s, epoch - warmup, max(1, s.max_epochs - warmup))


def momentum(s: Settings, epoch: int) -> float:
    """SGD's momentum in epoch `epoch` (1 = the first): optimizer.momentum, after the rise from
    optimizer.momentum_start over optimizer.momentum_epochs epochs when that is > 0."""
    opt = s.optimizer
    if epoch > opt.momentum_epochs:
        return opt.momentum
    return opt.momentum_start + (opt.momentum - opt.momentum_start) * (epoch - 1) / opt.momentum_epochs
