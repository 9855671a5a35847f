"""What each backend is and supports, as data: settings validation, the memory estimate and
`fcnn bench` read these declarations, never a list of their own, and import no backend to do
so (the backend modules import jax or scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives ("module:Class", imported on first use) and what it supports."""

    target: str
    #: optimizer names (`optimizer=...`); each supports momentum, nesterov and alpha as settings
    optimizers: tuple[str, ...] = ("sgd", "adam")
    #: runs on a GPU with device=gpu|auto
    gpu: bool = False
    #: rows scored at once when a whole split is evaluated (None: all of them), for the memory
    #: estimate made before a run starts (fcnn_cli.config.memory)
    eval_rows: int | None = None
    #: trains with dropout, max-norm and label smoothing (written by hand; scikit-learn's MLPs
    #: have none of them)
    regularizers: bool = True


#: Rows the numpy backend scores at once (its evaluation buffers).
NUMPY_EVAL_ROWS = 8192

# A new backend is one entry here and one YAML in conf/backend/.
BACKENDS: dict[str, BackendSpec] = {
    "numpy": BackendSpec("fcnn_cli.backends.numpy_backend:NumpyBackend",
                         eval_rows=NUMPY_EVAL_ROWS),
    "jax": BackendSpec("fcnn_cli.backends.jax_backend:JaxBackend", gpu=True),
    "jax-grad": BackendSpec("fcnn_cli.backends.jax_grad_backend:JaxGradBackend", gpu=True),
    "sklearn": BackendSpec("fcnn_cli.backends.sklearn_backend:SklearnBackend",
                           regularizers=False),
}


def gpu_backends() -> tuple[str, ...]:
    """The backends that can run on a GPU."""
    return tuple(name for name, spec in BACKENDS.items() if spec.gpu)
