"""Checkpoints, in process: every epoch's checkpoint restored into a backend trains on to the
very end of the uninterrupted run, on numpy, jax, jax-grad (plain SGD, SGD with Nesterov momentum
and L2, Adam) and sklearn (every task); the checkpoint file holds plain arrays and damage is one
line; an interrupted run's directory is refused to a new run with the resume hint. Real signals
to real processes, and the resume rules end to end: tests/cli/test_resume.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.resume import EPOCHS, resume_every_epoch
from helpers.resume import settings as _settings

from fcnn_cli.data import datasets
from fcnn_cli.training import checkpoint, loop

# --- in process: every epoch's checkpoint, restored, trains on to the same end -----------------





def _resume_every_epoch(tmp_path: Path, s, data) -> None:
    """Every epoch's checkpoint, restored (into a new backend; the JAX backends, which compile
    for a second or two, into the one that trained), trains on to the very end of the full run;
    the signal tests restore them in a new process."""
    reference = resume_every_epoch(tmp_path, s, data)
    assert reference.status == "completed" and len(reference.records) == EPOCHS


@pytest.mark.parametrize(("backend", "optimizer"), [
    ("numpy", "sgd"), ("numpy", "nesterov"), ("numpy", "adam"), ("jax", "adam"),
    ("jax-grad", "nesterov"),
    # Each JAX backend compiles for a second or two: the rest of the matrix is marked slow.
    pytest.param("jax", "nesterov", marks=pytest.mark.slow),
    pytest.param("jax-grad", "adam", marks=pytest.mark.slow),
])
def test_every_epoch_resumes_bitwise(tmp_path, backend, optimizer):
    _resume_every_epoch(tmp_path, _settings(backend, optimizer), datasets.load("digits"))


@pytest.mark.parametrize(("task", "optimizer", "config"), [
    ("classify", "nesterov", {}),  # MLPClassifier, SGDOptimizer's velocities
    ("classify", "adam", {}),  # MLPClassifier, AdamOptimizer's ms, vs and t
    ("classify", "sgd", {"dataset": {"name": "digits", "classes": [3, 8]}}),  # one output unit
    ("autoencoder", "adam", {"struct": [16, 8]}),  # MLPRegressor
    ("logreg", "sgd", {"batch_size": 1, "lr": 0.01, "struct": [],  # SGDClassifier
                       "dataset": {"name": "digits", "classes": [3, 8]}}),
])
def test_sklearn_resumes_bitwise(tmp_path, task, optimizer, config):
    """scikit-learn's estimators go on from a checkpoint as if never stopped: weights, optimizer
    buffers and curves bit for bit, after every epoch."""
    s = _settings("sklearn", optimizer, task={"name": task}, **config)
    data = datasets.load("digits", classes=s.classes)
    _resume_every_epoch(tmp_path, s, data)


def test_checkpoint_is_plain_arrays_and_damage_is_one_line(tmp_path):
    from fcnn_cli import backends

    s = _settings("numpy", "adam")
    data = datasets.load("digits")
    backend = backends.create(s, data)
    path = tmp_path / "checkpoint.npz"
    history = loop.run(backend, s, [checkpoint_to(path, s, data)])
    with np.load(path, allow_pickle=False) as npz:  # no pickles anywhere
        arrays = {name: npz[name] for name in npz.files}
    assert int(arrays["format_version"]) == 1 and int(arrays["epoch"]) == EPOCHS
    assert float(arrays["lr"]) == 0.01 * 0.8**EPOCHS  # the next epoch's rate, annealed
    assert {"W0", "b0", "W1", "b1", "step", "m.W0", "v.b1"} <= set(arrays)
    order_state = json.loads(str(arrays["batch_order_state"]))
    rng = loop.batch_rng(s.seed)
    for _ in range(EPOCHS):
        rng.permutation(data.n_train)
    assert order_state == rng.bit_generator.state  # the generator after EPOCHS orders
    assert json.loads(str(arrays["history"]))["records"] == history.rows()
    assert json.loads(str(arrays["run"]))["struct"] == [12]

    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(checkpoint.CheckpointError, match="damaged checkpoint") as err:
        checkpoint.load(damaged)
    assert "\n" not in str(err.value)
    np.savez(damaged, **{k: v for k, v in arrays.items() if k != "batch_order_state"})
    with pytest.raises(checkpoint.CheckpointError, match="lacks batch_order_state"):
        checkpoint.load(damaged)
    np.savez(damaged, **{**arrays, "format_version": np.array(2)})
    with pytest.raises(checkpoint.CheckpointError, match="newer fcnn"):
        checkpoint.load(damaged)
    saved = checkpoint.load(path)
    other = _settings("numpy", "adam", struct=[13])
    with pytest.raises(checkpoint.CheckpointError, match="layer 0"):
        checkpoint.restore(saved, backends.create(other, data), other)
    assert checkpoint.differences(saved, checkpoint.run_record(other, data)) == [
        "struct: saved [12], now [13]"]


def checkpoint_to(path: Path, s, data) -> checkpoint.Checkpointer:
    return checkpoint.Checkpointer(path, checkpoint.run_record(s, data))


def test_an_interrupted_run_directory_is_refused_to_a_new_run_with_the_resume_hint(tmp_path):
    from fcnn_cli.runs import claim

    (tmp_path / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    assert claim.describe_existing(tmp_path) == (
        f"already holds an interrupted run (to go on with it: fcnn train resume={tmp_path})")
