"""model.npz: one format (version 1) for every backend and the estimator, documented in
docs/reference/model-file.md; damaged files and files from a newer fcnn are one clear line (the
commands run in process). Files from before the format had a version, and damaged files given
to the installed commands: tests/cli/test_model_file_commands.py."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, assert_refused

from fcnn_cli.runs import model_file
from fcnn_cli.runs.layout import RunDir
from fcnn_cli.runs.model_file import MODEL_FORMAT_VERSION, ModelFormatError, SavedModel, read_model


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def test_every_backend_writes_the_documented_format(digits_run):
    """The arrays of a run's model.npz are exactly those the table of docs/reference/model-file.md
    names, with the values a reader needs (digits: 8x8 images, raw / 16, classes 0..9)."""
    page = (REPO / "docs" / "reference" / "model-file.md").read_text()
    section = page[page.index("## Arrays"):]
    section = section[:section.index("\n## ", 1) if "\n## " in section[1:] else None]
    documented = set(re.findall(r"^\| `([A-Za-z_0-9, .]+)` \|", section, flags=re.M))
    for backend in ("numpy", "sklearn"):
        arrays = _arrays(digits_run(backend) / "model.npz")
        names = {("W0, b0, W1, b1, ..." if re.fullmatch(r"[Wb]\d+", k) else k) for k in arrays}
        assert names == documented, (names, documented)
        assert int(arrays["format_version"]) == MODEL_FORMAT_VERSION
        assert arrays["classes"].tolist() == list(range(10))
        assert float(arrays["input_divisor"]) == 16.0
        assert arrays["image_shape"].tolist() == [8, 8]
        assert str(arrays["dataset"]) == "digits" and str(arrays["task"]) == "classify"
        assert int(arrays["n_features"]) == 64 and arrays["struct"].tolist() == [32]


def test_round_trip_of_labels_of_every_kind(tmp_path):
    w = [(np.ones((3, 4), np.float32), np.zeros(4, np.float32)),
         (np.ones((4, 3), np.float32), np.zeros(3, np.float32))]
    for labels, kind in ((["cat", "dog", "eel"], "U"), (np.array(["a", "bb", "c"], dtype=object), "U"),
                         ([0.5, 1.5, 2.5], "f"), ([-1, 0, 7], "i")):
        model = SavedModel(w, "tanh", "classify", np.asarray(labels), input_divisor=2.0)
        model_file.save_model(tmp_path / "m.npz", model)
        back = read_model(tmp_path / "m.npz")
        assert back.classes.dtype.kind == kind
        assert back.classes.tolist() == list(labels)
        assert back.activation == "tanh" and back.input_divisor == 2.0 and back.struct == [4]
    mixed = SavedModel(w, "relu", "classify", np.array([1, "a", 2.0], dtype=object))
    with pytest.raises(ValueError, match="cannot be stored in model.npz without pickling"):
        model_file.save_model(tmp_path / "mixed.npz", mixed)


def _damaged(good: dict[str, np.ndarray]) -> dict[str, tuple[dict[str, np.ndarray] | bytes, str]]:
    """name -> (the file's arrays or bytes, a fragment of the one-line error)."""
    def changed(**replace):
        arrays = {**good, **replace}
        return {k: v for k, v in arrays.items() if v is not None}

    raw = io.BytesIO()
    np.savez(raw, **good)
    return {
        "newer": (changed(format_version=np.array(MODEL_FORMAT_VERSION + 1)), "newer fcnn"),
        "truncated": (raw.getvalue()[: len(raw.getvalue()) // 2], "not a readable model file"),
        "not_a_zip": (b"hello, world", "not a readable model file"),
        "npy": (b"", "not a model file"),  # filled below with a single .npy array
        "no_bias": (changed(b1=None), "W1 without b1"),
        "bad_chain": (changed(W1=np.ones((5, 10), np.float32)), "do not chain"),
        "activation": (changed(activation=np.array("gelu")), "unknown activation"),
        "classes": (changed(classes=np.arange(3)), "not n_classes=10 labels"),
        "no_divisor": (changed(input_divisor=None), "no 'input_divisor'"),
        "divisor": (changed(input_divisor=np.array(0.0)), "input_divisor must be"),
        "struct": (changed(struct=np.array([31])), "does not match"),
        "image": (changed(image_shape=np.array([9, 9])), "does not hold 64 features"),
        "pickled": (changed(classes=np.array([object()] * 10, dtype=object)), "not a readable model"),
    }


def test_damaged_and_newer_files_are_one_line(digits_run, tmp_path, fcnn_here):
    run = digits_run("numpy")
    good = _arrays(run / "model.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 64), np.uint8))
    for name, (content, fragment) in _damaged(good).items():
        target = tmp_path / name
        shutil.copytree(run, target)
        path = target / "model.npz"
        if name == "npy":
            shutil.copy(tmp_path / "single.npy", path)
        elif name == "pickled":
            with open(path, "wb") as f:
                np.savez(f, **content)  # np.savez pickles the object array
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            _write(path, content)
        with pytest.raises(ModelFormatError, match=re.escape(fragment)):
            RunDir(target).read_model()
        assert isinstance(ModelFormatError("x"), ValueError)
        if name in ("newer", "truncated", "bad_chain"):  # the commands: one line, status 2
            assert_refused(fcnn_here("evaluate", str(target)), "evaluate:", fragment)
            assert_refused(fcnn_here("predict", str(target), str(x)), "predict:", fragment)


def test_model_files_hold_no_pickles(digits_run):
    with zipfile.ZipFile(digits_run("numpy") / "model.npz") as z:
        for name in z.namelist():
            header = z.read(name)[:128]
            assert b"'descr': '|O'" not in header and b"'descr': 'O'" not in header
