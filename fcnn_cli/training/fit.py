"""Training on a dataset, with no files and no Hydra: the one training path of `fcnn train` and
`FCNNClassifier.fit`, and the record model.npz keeps of the trained net."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fcnn_cli.backends.base import Backend
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset
    from fcnn_cli.runs.model_file import SavedModel
    from fcnn_cli.training.checkpoint import Checkpoint
    from fcnn_cli.training.loop import EpochCallback, History
    from fcnn_cli.training.progress import Display


def fit(s: Settings, data: Dataset, callbacks: Sequence[EpochCallback] = (),
        resume: Checkpoint | None = None, stop: Callable[[], bool] | None = None,
        display: Display | None = None) -> tuple[Backend, History]:
    """Train on `data` with the checked settings `s`: the backend `s` names, through the shared
    loop, which shows each epoch to `callbacks`, on `s.threads` BLAS threads. The one training
    path of `fcnn train` and `FCNNClassifier.fit`. `resume`: a checkpoint to go on from
    (CheckpointError when it does not fit the model); `stop`: asked before every epoch, true ends
    training there; `display`: the status line and progress bar (fcnn_cli.training.progress), by
    default per `s.progress`."""
    from fcnn_cli import backends
    from fcnn_cli.backends import threads
    from fcnn_cli.training import checkpoint, loop
    from fcnn_cli.training.lr_floor import LrFloor
    from fcnn_cli.training.progress import Display

    display = Display(s.progress) if display is None else display
    # The JAX backends compile their epoch while they are built (seconds).
    display.status(f"compiling the epoch ({s.backend})" if s.backend.startswith("jax")
                   else f"setting up the {s.backend} backend")
    backend = backends.create(s, data)
    # A warning when annealing has stopped training (the other schedules' rates are planned).
    floor = [LrFloor(s)] if s.schedule.name == "exponential" else []
    callbacks = [*callbacks, *floor]
    # The BLAS threads held to `threads` while it trains: the same count, the same bits. After
    # the backend is built, so that a BLAS it loaded (scikit-learn's scipy) is held too.
    with threads.pinned(s.threads):
        state = checkpoint.restore(resume, backend, s) if resume is not None else None
        return backend, loop.run(backend, s, callbacks, state=state, stop=stop, display=display)


def saved_model(s: Settings, data: Dataset, task: str, params: Any,
                classes: Any = None) -> SavedModel:
    """The record model.npz keeps of a trained net: its weights and how to use them (the
    dataset's labels unless `classes` names them, its input scaling and image shape)."""
    import numpy as np

    from fcnn_cli.data.dataset import SHAPES, Shape
    from fcnn_cli.runs.model_file import SavedModel

    shape = SHAPES.get(s.dataset, Shape(0, 0, data.n_features, data.n_classes))
    return SavedModel(
        params=[(np.asarray(w), np.asarray(b)) for w, b in params], activation=s.activation,
        task=task, classes=np.asarray(data.classes if classes is None else classes),
        input_divisor=shape.divisor, image_shape=shape.image, dataset=s.dataset,
    )
