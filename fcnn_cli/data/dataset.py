"""What a dataset is, without loading one: the names and shapes of the datasets fcnn knows, and
the `Dataset` a run trains on (numpy only, so the formulas and backends can name it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASETS = ("mnist", "digits", "fashion")


@dataclass(frozen=True)
class Shape:
    """A dataset's size as shipped, known before it is loaded (for checks that come first)."""

    n_train: int
    n_test: int
    n_features: int
    n_classes: int
    #: rows x columns of one image (empty: the features are not an image)
    image: tuple[int, ...] = ()
    #: features = raw value / divisor: the largest raw value, so features lie in [0, 1]
    divisor: float = 1.0


SHAPES = {
    "mnist": Shape(60_000, 10_000, 784, 10, image=(28, 28), divisor=255.0),
    "fashion": Shape(60_000, 10_000, 784, 10, image=(28, 28), divisor=255.0),
    "digits": Shape(1_437, 360, 64, 10, image=(8, 8), divisor=16.0),
}


#: the name of a dataset given as arrays (FCNNClassifier.fit), which no loader knows
IN_MEMORY = "arrays"


@dataclass
class Dataset:
    """Features scaled to [0, 1] in the run's dtype, integer labels 0..n_classes-1.

    `classes[k]` is the dataset's own label of class k: 0..9 for the whole of MNIST, (3, 8) after
    `dataset.classes=[3,8]`, whose 3s are then labelled 0 and 8s 1. Data given as arrays
    (`from_arrays`) may have no test split (x_test None).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    classes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.classes:
            self.classes = tuple(range(self.n_classes))

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def has_val(self) -> bool:
        return self.x_val is not None

    @property
    def has_test(self) -> bool:
        return self.x_test is not None

    def has_split(self, name: str) -> bool:
        """Whether the split 'train', 'val' or 'test' is there (train always is)."""
        return getattr(self, f"x_{name}") is not None

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_split(name):
            raise ValueError(f"this dataset has no {'validation' if name == 'val' else name} split")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
