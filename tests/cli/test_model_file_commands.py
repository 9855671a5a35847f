"""model.npz through the installed commands: a file from before the format had a version is
still read (the run's config filling in what it lacks) by `fcnn evaluate` and `fcnn predict`,
and a damaged or newer file is one line with exit status 2. The format in process:
tests/unit/test_model_file.py."""

from __future__ import annotations

import re
import shutil

import numpy as np
from helpers import assert_refused, run_fcnn

from fcnn_cli.runs.layout import RunDir
from fcnn_cli.runs.model_file import MODEL_FORMAT_VERSION, read_model


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_a_file_from_before_versions_is_still_read(tmp_path):
    """A model.npz as fcnn wrote it before format version 1 (weights, struct, activation,
    n_classes, task): the run's config gives its classes, input scaling and image shape, and
    `fcnn evaluate` and `fcnn predict` use it."""
    run = tmp_path / "run"
    result = run_fcnn("train", "backend=numpy", "dataset=digits", "dataset.classes=[3,8]",
                      "struct=[8]", "max_epochs=2", "progress=false", "plot=false",
                      f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    arrays = _arrays(run / "model.npz")
    old = {k: v for k, v in arrays.items() if re.fullmatch(r"[Wb]\d+", k)}
    old.update(struct=arrays["struct"], activation=arrays["activation"], n_classes=np.array(2),
               task=np.array("classify"))
    with open(run / "model.npz", "wb") as f:  # as model_file.save_model wrote it then
        np.savez(f, **old)
    assert "format_version" not in _arrays(run / "model.npz")
    legacy = read_model(run / "model.npz")
    assert legacy.format_version == 0 and legacy.input_divisor is None
    filled = RunDir(run).read_model()
    assert filled.classes.tolist() == [3, 8] and filled.input_divisor == 16.0
    assert filled.image_shape == (8, 8)
    result = run_fcnn("evaluate", str(run))
    assert result.returncode == 0, result.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.uint8))
    result = run_fcnn("predict", str(run), str(tmp_path / "x.npy"))
    assert result.returncode == 0 and result.stdout.splitlines()[1].split(",")[1] in ("3", "8")


def test_the_installed_commands_refuse_a_newer_file_in_one_line(digits_run, tmp_path):
    target = tmp_path / "newer"
    shutil.copytree(digits_run("numpy"), target)
    arrays = _arrays(target / "model.npz")
    np.savez(target / "model.npz", **{**arrays, "format_version": np.array(MODEL_FORMAT_VERSION + 1)})
    np.save(tmp_path / "x.npy", np.zeros((2, 64), np.uint8))
    assert_refused(run_fcnn("evaluate", str(target)), "evaluate:", "newer fcnn")
    assert_refused(run_fcnn("predict", str(target), str(tmp_path / "x.npy")), "predict:", "newer fcnn")
