"""Augmentation by shifts (fcnn_cli.core.augment): the same shifts for the same seed and epoch,
uniform in -K..K, zero padding, exactly the images every backend trains on (numpy, jax, jax-grad
and sklearn alike, agreeing in float64), never the validation or test set, refused in one line
for data that are not images, and bitwise resume."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import augment
from fcnn_cli.data import datasets
from fcnn_cli.data.dataset import Shape
from fcnn_cli.errors import UsageError
from fcnn_cli.training import loop


def _settings(backend: str = "numpy", **config):
    return from_config({"backend": {"name": backend}, "dataset": {"name": "digits"},
                        "struct": [16], "batch_size": 32, "seed": 3, "max_epochs": 3,
                        "lr": 0.1, "val_fraction": 0.1, "augment": {"shift": 2},
                        "progress": False, **config})


def _data(s):
    return datasets.load("digits", dtype=s.dtype, val_fraction=s.val_fraction, seed=s.seed)


def test_shifts_are_seeded_uniform_and_per_epoch():
    a, b = augment.draw_shifts(3, 1, 5000, 2), augment.draw_shifts(3, 1, 5000, 2)
    assert (a == b).all()
    assert not (a == augment.draw_shifts(3, 2, 5000, 2)).all()  # another epoch
    assert not (a == augment.draw_shifts(4, 1, 5000, 2)).all()  # another seed
    assert set(np.unique(a)) == {-2, -1, 0, 1, 2}
    counts = np.unique(a[:, 0], return_counts=True)[1]
    assert counts.min() > 0.8 * 1000 and counts.max() < 1.2 * 1000


def test_shifted_images_are_moved_with_zero_padding():
    rng = np.random.default_rng(0)
    x = rng.random((200, 5 * 7)) + 1.0  # no zeros of its own: every zero below is padding
    shifts = augment.draw_shifts(1, 1, 200, 3)
    out = augment.shift_images(x, (5, 7), shifts)
    for i, (dy, dx) in enumerate(shifts):
        img, ref = x[i].reshape(5, 7), np.zeros((5, 7))
        for r in range(5):
            for c in range(7):
                if 0 <= r - dy < 5 and 0 <= c - dx < 7:
                    ref[r, c] = img[r - dy, c - dx]
        assert (out[i].reshape(5, 7) == ref).all(), (i, dy, dx)
    assert ((out == 0).sum(axis=1) == [5 * 7 - (5 - abs(dy)) * (7 - abs(dx))
                                      for dy, dx in shifts]).all()


class Seen:
    """Wraps a backend's set_train_inputs to keep a copy of every epoch's training inputs."""

    def __init__(self, backend):
        self.inputs, self._set = [], backend.set_train_inputs
        backend.set_train_inputs = self

    def __call__(self, x):
        self.inputs.append(x.copy())
        self._set(x)


@pytest.fixture(scope="module")
def numpy_run():
    s = _settings(dtype="float64")
    data = _data(s)
    before = {name: data.split(name)[0].copy() for name in ("train", "val", "test")}
    backend = backends.create(s, data)
    seen = Seen(backend)
    history = loop.run(backend, s)
    return s, data, before, backend, seen.inputs, history


def test_each_epoch_trains_on_its_shifted_copies_and_nothing_else_is_touched(numpy_run):
    s, data, before, backend, inputs, history = numpy_run
    assert len(inputs) == 3
    for epoch, x in enumerate(inputs, 1):
        expected = augment.shift_images(before["train"], (8, 8),
                                        augment.draw_shifts(s.seed, epoch, data.n_train, 2))
        assert (x == expected).all()
        assert not (x == before["train"]).all()
    for name in ("train", "val", "test"):  # the splits (and what is scored) stay as they were
        assert (data.split(name)[0] == before[name]).all()
    assert backend.evaluate("train") == (history.last.train_loss, history.last.train_acc)


@pytest.mark.parametrize("name", ["jax", "jax-grad", "sklearn"])
def test_every_backend_trains_on_the_same_images(name, numpy_run):
    s, _, _, numpy_backend, numpy_inputs, numpy_history = numpy_run
    s = _settings(name, dtype="float64")
    backend = backends.create(s, _data(s))
    seen = Seen(backend)
    history = loop.run(backend, s)
    assert all((a == b).all() for a, b in zip(seen.inputs, numpy_inputs, strict=True))
    if name != "sklearn":  # the same init: the same weights to rounding, in float64
        for (w, _), (w0, _) in zip(backend.get_params(), numpy_backend.get_params(), strict=True):
            np.testing.assert_allclose(w, w0, rtol=0, atol=1e-9 * np.abs(w0).max())
        assert [r.train_acc for r in history.records] == [
            r.train_acc for r in numpy_history.records]


def test_augmentation_changes_training(numpy_run):
    s, _, _, numpy_backend, _, _ = numpy_run
    plain = _settings(dtype="float64", augment={"shift": 0})
    backend = backends.create(plain, _data(plain))
    loop.run(backend, plain)
    assert not np.allclose(backend.get_params()[0][0], numpy_backend.get_params()[0][0])


def test_refused_in_one_line_for_data_that_are_not_images_or_too_far():
    with pytest.raises(UsageError) as err:
        from_config({"backend": {"name": "numpy"}, "augment": {"shift": 1}},
                    data_shape=Shape(100, 0, 5, 2))
    assert "augment.shift" in str(err.value) and "not images" in str(err.value)
    for bad in (8, -1, 1.5, "two"):
        with pytest.raises(UsageError) as err:
            _settings(augment={"shift": bad})
        assert "augment.shift" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_resume_is_bitwise(tmp_path, backend):
    s = _settings(backend, max_epochs=4, optimizer={"name": "adam"}, lr=0.01)
    resume_every_epoch(tmp_path, s, _data(s))
