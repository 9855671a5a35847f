"""model.npz: the one format of a trained net (every backend, the CLI and FCNNClassifier.save),
read back for evaluate, predict and from_run. Written atomically; the file names and the
directory belong to `fcnn_cli.runs.layout`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fcnn_cli import atomic

# --- model.npz ----------------------------------------------------------------------------------
#
# One format for every backend, the CLI and FCNNClassifier.save; plain arrays only (numpy.load with
# allow_pickle=False reads it, and so can any npz reader). Its arrays:
#
#   format_version  int64 scalar: MODEL_FORMAT_VERSION (absent in files written before it existed)
#   W0, b0, W1, b1, ...  the layers, input layer first: W_i (inputs x outputs), b_i (outputs)
#   struct          int64 [L-1]: every hidden layer's width (an autoencoder's encoder and decoder)
#   activation      str scalar: the hidden layers' activation, relu | sigmoid | tanh
#   task            str scalar: classify (softmax outputs) | logreg (one sigmoid output, P(second
#                   class)) | autoencoder (identity outputs, as wide as the input)
#   n_classes       int64 scalar: len(classes)
#   classes         [n_classes]: the label of each class, output k is classes[k]: the dataset's own
#                   labels for a run (e.g. [3, 8]), any numbers or strings for FCNNClassifier
#   n_features      int64 scalar: the width of the input
#   input_divisor   float64 scalar: features = raw input / input_divisor (MNIST 255, digits 16,
#                   FCNNClassifier 1: its inputs are used as given)
#   image_shape     int64 [0 or 2]: rows x columns of an input image (MNIST [28, 28]); empty when
#                   the inputs are not images
#   dataset         str scalar: the dataset trained on (mnist, digits, fashion; arrays for
#                   FCNNClassifier)

MODEL_FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    """A model file that cannot be used: unreadable, damaged, or from an incompatible version."""


@dataclass
class SavedModel:
    """What model.npz records: the weights and everything needed to use them on new inputs."""

    params: list[tuple[np.ndarray, np.ndarray]]
    activation: str
    task: str
    classes: np.ndarray
    #: None only for a file written before the format recorded it (filled from the run's config)
    input_divisor: float | None = 1.0
    image_shape: tuple[int, ...] = ()
    dataset: str = ""
    format_version: int = MODEL_FORMAT_VERSION

    @property
    def n_features(self) -> int:
        return int(self.params[0][0].shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.params[-1][0].shape[1])

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    @property
    def struct(self) -> list[int]:
        return [int(w.shape[1]) for w, _ in self.params[:-1]]

    @property
    def dtype(self) -> np.dtype:
        return self.params[0][0].dtype

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of model.npz, by name."""
        out: dict[str, np.ndarray] = {"format_version": np.array(MODEL_FORMAT_VERSION, np.int64)}
        for i, (w, b) in enumerate(self.params):
            out[f"W{i}"], out[f"b{i}"] = np.asarray(w), np.asarray(b)
        out["struct"] = np.array(self.struct, dtype=np.int64)
        out["activation"] = np.array(self.activation)
        out["task"] = np.array(self.task)
        out["n_classes"] = np.array(self.n_classes, dtype=np.int64)
        out["classes"] = plain_labels(self.classes)
        out["n_features"] = np.array(self.n_features, dtype=np.int64)
        out["input_divisor"] = np.array(1.0 if self.input_divisor is None else self.input_divisor,
                                        dtype=np.float64)
        out["image_shape"] = np.array(self.image_shape, dtype=np.int64)
        out["dataset"] = np.array(self.dataset)
        return out


def plain_labels(labels: Any) -> np.ndarray:
    """Class labels as an array npz stores without pickling (numbers, booleans or strings); an
    object array of all-str, all-int or all-float labels is converted, anything else refused."""
    array = np.asarray(labels)
    if array.dtype.kind in "biufUS":
        return array
    items = array.tolist()
    for kind, dtype in ((str, np.str_), (bool, np.bool_), (int, np.int64), (float, np.float64)):
        if all(isinstance(item, kind) and (kind is bool or not isinstance(item, bool))
               for item in items):
            return np.array(items, dtype=dtype)
    kinds = sorted({type(item).__name__ for item in items})
    raise ValueError(f"class labels of type {', '.join(kinds)} cannot be stored in model.npz "
                     "without pickling; use numbers or strings")


def save_model(path: Path, model: SavedModel) -> None:
    """Write `model` as model.npz (atomically); see the format above."""
    arrays = model.arrays()
    with atomic.atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def read_model(path: Path) -> SavedModel:
    """The model in a model.npz written by any backend, the CLI or FCNNClassifier.save.

    Raises ModelFormatError (a ValueError) with a one-line reason for a file that is not a
    readable model, is damaged, or was written by a newer fcnn. A file from before the format
    had a version gets the defaults: classes 0..n_classes-1, input_divisor None (unknown).
    """
    import zipfile
    import zlib

    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ModelFormatError(f"{path}: not a model file (a single .npy array, not an npz "
                                   "archive)")
        with z:
            arrays = {name: z[name] for name in z.files}
    except ModelFormatError:
        raise
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ModelFormatError(f"{path}: not a readable model file ({reason})") from None
    return model_from_arrays(arrays, path)


def model_from_arrays(arrays: dict[str, np.ndarray], path: Path | str = "model.npz") -> SavedModel:
    """Check the arrays of a model file against each other and build the SavedModel."""
    # The formulas' own tables: a model file names what the code can run.
    from fcnn_cli.core.model import ACTIVATIONS
    from fcnn_cli.core.tasks import TASKS

    def bad(reason: str) -> ModelFormatError:
        return ModelFormatError(f"{path}: damaged model file: {reason}")

    def scalar(name: str, kind: str, default: Any = None) -> Any:
        if name not in arrays:
            if default is None:
                raise bad(f"no {name!r} array")
            return default
        value = arrays[name]
        if value.shape != () or value.dtype.kind not in kind:
            raise bad(f"{name!r} is not a single {'string' if kind == 'U' else 'number'}")
        return value.item()

    version = scalar("format_version", "iu", 0)

    def recorded(name: str, kind: str, legacy: Any) -> Any:
        """A key every versioned file has; a file from before versions gets `legacy`."""
        return scalar(name, kind, None if version >= 1 else legacy)

    if version > MODEL_FORMAT_VERSION:
        raise ModelFormatError(f"{path}: model format version {version} was written by a newer "
                               f"fcnn; this one reads versions up to {MODEL_FORMAT_VERSION}: "
                               "upgrade fcnn")
    if version < 0:
        raise bad(f"format version {version}")
    params = []
    while f"W{len(params)}" in arrays:
        i = len(params)
        if f"b{i}" not in arrays:
            raise bad(f"W{i} without b{i}")
        w, b = arrays[f"W{i}"], arrays[f"b{i}"]
        if w.ndim != 2 or b.ndim != 1 or w.dtype.kind != "f" or b.dtype.kind != "f":
            raise bad(f"W{i} must be a 2-d and b{i} a 1-d float array; got shapes "
                      f"{w.shape} and {b.shape}")
        if b.shape[0] != w.shape[1] or (params and params[-1][0].shape[1] != w.shape[0]):
            raise bad(f"layer {i}'s shapes do not chain: W{i} {w.shape}, b{i} {b.shape}"
                      + (f" after W{i - 1} {params[-1][0].shape}" if params else ""))
        params.append((w, b))
    if not params:
        raise bad("no weights (W0, b0, ...)")
    hidden = [int(w.shape[1]) for w, _ in params[:-1]]
    if "struct" in arrays and arrays["struct"].tolist() != hidden:
        raise bad(f"struct {arrays['struct'].tolist()} does not match the weights' {hidden}")
    activation = scalar("activation", "U")
    if activation not in ACTIVATIONS:
        raise bad(f"unknown activation {activation!r}")
    task = recorded("task", "U", "classify")
    if task not in TASKS:
        raise bad(f"unknown task {task!r}")
    n_outputs = int(params[-1][0].shape[1])
    n_classes = recorded("n_classes", "iu", {"logreg": 2}.get(task, n_outputs))
    if version >= 1 and "classes" not in arrays:
        raise bad("no 'classes' array")
    if "classes" in arrays:
        classes = arrays["classes"]
        if classes.ndim != 1 or classes.shape[0] != n_classes:
            raise bad(f"classes {classes.tolist()} are not n_classes={n_classes} labels")
    else:
        classes = np.arange(n_classes)
    expected_outputs = {"classify": n_classes, "logreg": 1, "autoencoder": params[0][0].shape[0]}[task]
    if n_outputs != expected_outputs or (task == "logreg" and n_classes != 2):
        raise bad(f"task={task} with {n_classes} classes, but the output layer has {n_outputs} "
                  f"units")
    n_features = recorded("n_features", "iu", params[0][0].shape[0])
    if n_features != params[0][0].shape[0]:
        raise bad(f"n_features {n_features}, but W0 takes {params[0][0].shape[0]} inputs")
    divisor = scalar("input_divisor", "fiu") if version >= 1 else None
    if divisor is not None and not (np.isfinite(divisor) and divisor > 0):
        raise bad(f"input_divisor must be a finite number > 0, got {divisor}")
    if version >= 1 and "image_shape" not in arrays:
        raise bad("no 'image_shape' array")
    shape_array = arrays.get("image_shape", np.zeros(0, np.int64))
    if shape_array.ndim != 1 or shape_array.dtype.kind not in "iu":
        raise bad(f"image_shape must be a list of integers, got {shape_array.tolist()}")
    image_shape = tuple(int(n) for n in shape_array.tolist())
    if image_shape and (len(image_shape) != 2 or int(np.prod(image_shape)) != n_features):
        raise bad(f"image_shape {list(image_shape)} does not hold {n_features} features")
    dataset = recorded("dataset", "U", "")
    return SavedModel(params=params, activation=activation, task=task, classes=classes,
                      input_divisor=divisor, image_shape=image_shape, dataset=dataset,
                      format_version=int(version))


def load_model(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(params, activation) from a model.npz written by any backend."""
    model = read_model(path)
    return model.params, model.activation


# --- figures of `fcnn evaluate` -----------------------------------------------------------------


