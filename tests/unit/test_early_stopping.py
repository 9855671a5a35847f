"""Early stopping (fcnn_cli.training.early_stopping): scikit-learn's rule, the stop and the best
epoch's weights restored on every backend (the same epochs on numpy, jax and jax-grad in
float64), the loss watched for a task without accuracy, val_fraction 0 refused in one line, and
bitwise resume, before and after the stop."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.resume import assert_bitwise, resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.settings import EarlyStoppingSettings
from fcnn_cli.config.validate import from_config
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import early_stopping, loop

# Digits, 20% held out, a high constant rate: the validation accuracy climbs for 6 epochs, then
# wobbles, so patience 2 stops after epoch 8 with epoch 6 the best.
BASE = {"dataset": {"name": "digits"}, "struct": [16], "batch_size": 32, "seed": 3,
        "max_epochs": 12, "lr": 0.3, "annealing": 1.0, "val_fraction": 0.2,
        "early_stopping": {"patience": 2, "min_delta": 0.0}, "dtype": "float64",
        "progress": False}


def _settings(backend: str = "numpy", **config):
    return from_config({**BASE, "backend": {"name": backend}, **config})


def _data(s):
    return datasets.load("digits", dtype=s.dtype, val_fraction=s.val_fraction, seed=s.seed,
                         classes=s.classes)


class _Stub:
    """A backend whose weights are the number of the epoch that made them."""

    def __init__(self):
        self.params = [(np.zeros(1), np.zeros(1))]

    def get_state(self):
        return [(w.copy(), b.copy()) for w, b in self.params], None


@pytest.mark.parametrize(("scores", "min_delta", "stopped", "best"), [
    ([0.5, 0.6, 0.6, 0.59, 0.58], 0.0, 5, 2),  # a tie resets the count (scikit-learn's rule)
    ([0.5, 0.6, 0.6, 0.59, 0.58], 0.05, 4, 2),  # ties and small gains count as no improvement
    ([0.5, 0.6, 0.62, 0.63, 0.64], 0.05, 4, 4),  # better by less than min_delta: the best, no reset
    ([0.5, 0.6, 0.7, 0.8, 0.9], 0.05, None, 5),  # moves on, and the bar rises
])
def test_scikit_learns_rule(scores, min_delta, stopped, best):
    state = early_stopping.EarlyStopping(EarlyStoppingSettings(2, min_delta), "val_acc", 1.0)
    stub = _Stub()
    stopped_at = None
    for epoch, score in enumerate(scores, 1):
        stub.params[0][0][0] = epoch
        state.update(epoch, score, stub)
        if state.reason is not None:
            stopped_at = epoch
            break
    assert stopped_at == stopped and state.best_epoch == best
    assert state.best_params[0][0][0] == best  # the best epoch's weights were kept


class Snapshots:
    """A callback that keeps every epoch's weights."""

    def on_train_start(self, backend, state):
        self.backend, self.params = backend, {}

    def on_epoch_end(self, record):
        self.params[record.epoch] = self.backend.get_params()


@pytest.fixture(scope="module")
def numpy_stopped():
    s = _settings()
    data = _data(s)
    backend, snapshots = backends.create(s, data), Snapshots()
    history = loop.run(backend, s, [snapshots])
    return s, backend, history, snapshots


def test_stops_and_ends_on_the_best_epochs_weights(numpy_stopped):
    s, backend, history, snapshots = numpy_stopped
    assert len(history.records) == 8 < s.max_epochs and history.status == "completed"
    val = [r.val_acc for r in history.records]
    assert history.stop == {"metric": "val_acc", "patience": 2, "min_delta": 0.0, "best_epoch": 6,
                            "stopped_epoch": 8, "restored_best": True,
                            "reason": "no improvement of val_acc by 0 in 2 epochs"}
    assert val[5] == max(val) and val[6] < val[5] and val[7] < val[5]
    assert_bitwise(backend.get_params(), snapshots.params[6])
    assert history.kept is history.records[5]
    assert backend.evaluate("val")[1] == history.kept.val_acc


def test_restore_best_false_keeps_the_last_epoch():
    s = _settings(early_stopping={"patience": 2, "min_delta": 0.0, "restore_best": False})
    backend, snapshots = backends.create(s, _data(s)), Snapshots()
    history = loop.run(backend, s, [snapshots])
    assert history.stop["restored_best"] is False and history.kept is history.last
    assert_bitwise(backend.get_params(), snapshots.params[8])


@pytest.mark.parametrize("name", ["jax", "jax-grad"])
def test_jax_backends_stop_at_the_same_epoch_as_numpy(name, numpy_stopped):
    s, numpy_backend, numpy_history, _ = numpy_stopped
    s = _settings(name)
    backend = backends.create(s, _data(s))
    history = loop.run(backend, s)
    assert history.stop == numpy_history.stop
    assert [r.val_acc for r in history.records] == [r.val_acc for r in numpy_history.records]
    for (w, _), (w0, _) in zip(backend.get_params(), numpy_backend.get_params(), strict=True):
        np.testing.assert_allclose(w, w0, rtol=0, atol=1e-9 * np.abs(w0).max())


def test_sklearn_stops_and_restores():
    s = _settings("sklearn", max_epochs=30, early_stopping={"patience": 2, "min_delta": 0.01})
    backend, snapshots = backends.create(s, _data(s)), Snapshots()
    history = loop.run(backend, s, [snapshots])
    assert history.stop["stopped_epoch"] == len(history.records) < 30
    best = history.stop["best_epoch"]
    assert_bitwise(backend.get_params(), snapshots.params[best])
    assert backend.evaluate("val")[1] == history.records[best - 1].val_acc


def test_a_task_without_accuracy_watches_the_validation_loss():
    s = _settings(task={"name": "autoencoder"}, struct=[16, 4], lr=0.05, max_epochs=6,
                  early_stopping={"patience": 1, "min_delta": 10.0})
    history = loop.run(backends.create(s, _data(s)), s)
    assert history.stop["metric"] == "val_loss"
    assert history.stop["best_epoch"] == 2 and history.stop["stopped_epoch"] == 2  # 10 is a lot


def test_needs_a_validation_set_one_line():
    with pytest.raises(UsageError) as err:
        _settings(val_fraction=0.0)
    assert "early_stopping.patience" in str(err.value) and "val_fraction" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("config", "key"), [
    ({"patience": 0}, "early_stopping.patience"), ({"patience": 1.5}, "early_stopping.patience"),
    ({"patience": 2, "min_delta": -1}, "early_stopping.min_delta"),
    ({"patience": 2, "restore_best": "no"}, "early_stopping.restore_best"),
])
def test_bad_values_are_one_line(config, key):
    with pytest.raises(UsageError) as err:
        _settings(early_stopping=config)
    assert key in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("backend", ["numpy", "jax", "sklearn"])
def test_resume_is_bitwise_before_and_after_the_stop(tmp_path, backend):
    s = _settings(backend, dtype="float32", optimizer={"name": "sgd", "momentum": 0.5}, lr=0.1,
                  max_epochs=30, early_stopping={"patience": 2, "min_delta": 0.005})
    reference = resume_every_epoch(tmp_path, s, _data(s))
    assert reference.stop["reason"] is not None and len(reference.records) < 30
    # The last checkpoint, taken once stopped, resumed with more epochs: nothing more to train.
    from fcnn_cli.training import checkpoint

    s_longer = _settings(backend, dtype="float32", optimizer={"name": "sgd", "momentum": 0.5},
                         lr=0.1, max_epochs=40, early_stopping={"patience": 2, "min_delta": 0.005})
    model = backends.create(s_longer, _data(s))
    last = checkpoint.load(tmp_path / f"epoch-{len(reference.records)}.npz")
    assert last.early["reason"] is not None and last.best_params is not None
    history = loop.run(model, s_longer, state=checkpoint.restore(last, model, s_longer))
    assert len(history.records) == len(reference.records) and history.stop == reference.stop
