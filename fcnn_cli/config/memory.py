"""How much memory a run will need, estimated from its settings before anything is allocated,
and checked against the memory this machine has available.

A net too large for the machine is refused in one line that says how much it would need, rather
than ending in a MemoryError (or the kernel's out-of-memory killer) minutes into the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcnn_cli.errors import UsageError

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings

# Arrays the size of the parameters that every backend holds: the weights, their gradients and
# the copy handed out when the model is saved; the optimizer's state comes on top.
PARAMETER_COPIES = 3
# Optimizer state, in parameter-sized arrays (an unknown optimizer: as many as Adam).
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2}


@dataclass(frozen=True)
class Estimate:
    """Bytes a run needs, by what they hold."""

    parameters: int  # count of weights and biases
    weights: int  # parameters, gradients, a saved copy and the optimizer's state
    activations: int  # one batch's activations and errors, and scoring a whole split
    data: int  # the dataset as loaded (uint8 cache and float features)

    @property
    def total(self) -> int:
        return self.weights + self.activations + self.data


def estimate(settings: Settings, n_train: int, n_test: int, n_features: int, n_classes: int,
             eval_rows: int | None) -> Estimate:
    """The memory a run with `settings` needs on a dataset of this shape; `eval_rows` is how many
    rows the backend scores at once (None: a whole split)."""
    import numpy as np

    itemsize = np.dtype(settings.dtype).itemsize
    sizes = [n_features, *settings.struct, n_classes]
    parameters = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    slots = OPTIMIZER_SLOTS.get(settings.optimizer.name, max(OPTIMIZER_SLOTS.values()))
    weights = (PARAMETER_COPIES + slots) * parameters * itemsize
    batch = min(settings.batch_size, n_train)
    rows = n_train if eval_rows is None else min(eval_rows, n_train)
    activations = (2 * batch * sum(sizes) + rows * sum(sizes[1:])) * itemsize
    data = (n_train + n_test) * n_features * (1 + itemsize)
    return Estimate(parameters, weights, activations, data)


def available_bytes() -> int | None:
    """Memory available to a new allocation (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_fits(settings: Settings, n_train: int, n_test: int, n_features: int, n_classes: int,
               eval_rows: int | None) -> Estimate:
    """Refuse (UsageError on `struct`) a run that cannot fit in the memory available."""
    need = estimate(settings, n_train, n_test, n_features, n_classes, eval_rows)
    have = available_bytes()
    if have is not None and need.total > have:
        sizes = [n_features, *settings.struct, n_classes]
        raise UsageError(
            "struct",
            f"a network of layer sizes {sizes} has {count(need.parameters)} parameters and needs about "
            f"{gib(need.total)} of memory with backend={settings.backend} (weights, gradients and "
            f"optimizer state {gib(need.weights)}, activations {gib(need.activations)}, data "
            f"{gib(need.data)}); this machine has {gib(have)} available: choose smaller layers",
        )
    return need


def gib(n: int) -> str:
    """Bytes in GiB (or MiB when small), for people."""
    if n < 2**30:
        return f"{n / 2**20:.1f} MiB"
    if n < 2**30 * 10**15:
        return f"{n / 2**30:,.1f} GiB"
    return f"10^{len(str(n)) - 1} bytes"


def count(n: int) -> str:
    """A count for people: digits grouped, or its order of magnitude when astronomical."""
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"
