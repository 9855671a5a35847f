"""checkpoint.every_s: a checkpoint after an epoch only when the last is old enough, always after
a new run's first epoch, at the end and when a signal stops the loop; bad values refused."""

from __future__ import annotations

import pytest

from fcnn_cli.config.validate import from_config
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import checkpoint, loop


class FakeClock:
    """Time that moves only when told: each epoch 'takes' `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now


class Tick:
    """A callback, placed before the Checkpointer, that advances the fake clock per epoch."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def on_epoch_end(self, record) -> None:
        self.clock.now += self.clock.step


def _settings(**config):
    return from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"},
                        "struct": [8], "batch_size": 256, "max_epochs": 10, "seed": 1,
                        "progress": False, **config})


def _train(tmp_path, every_s: float, step: float, stop_after: int | None = None, **config):
    from fcnn_cli import backends

    s = _settings(**config)
    data = datasets.load("digits")
    clock = FakeClock(step)
    keeper = checkpoint.Checkpointer(tmp_path / "checkpoint.npz", checkpoint.run_record(s, data),
                                     every_s=every_s, clock=clock)
    backend = backends.create(s, data)
    state = loop.start(s)

    def stop() -> bool:
        return stop_after is not None and state.epoch >= stop_after

    history = loop.run(backend, s, [Tick(clock), keeper], state=state, stop=stop)
    return keeper, history


def test_written_only_when_due_and_always_first_and_last(tmp_path):
    # Epochs of 1.5 s, every_s 4: the first epoch, then whenever 4 s have passed, then the end.
    keeper, history = _train(tmp_path, every_s=4.0, step=1.5)
    assert history.status == "completed"
    assert keeper.written == [1, 4, 7, 10]
    assert checkpoint.load(tmp_path / "checkpoint.npz").epoch == 10


def test_the_last_epoch_is_written_even_when_not_due(tmp_path):
    keeper, _ = _train(tmp_path, every_s=100.0, step=1.0, max_epochs=6)
    assert keeper.written == [1, 6]


def test_zero_writes_after_every_epoch(tmp_path):
    keeper, _ = _train(tmp_path, every_s=0.0, step=0.0, max_epochs=4)
    assert keeper.written == [1, 2, 3, 4]


def test_a_stop_between_epochs_checkpoints_the_last_one_done(tmp_path):
    keeper, history = _train(tmp_path, every_s=100.0, step=1.0, stop_after=5)
    assert history.status == "interrupted" and len(history.records) == 5
    assert keeper.written == [1, 5]
    saved = checkpoint.load(tmp_path / "checkpoint.npz")
    assert saved.epoch == 5 and saved.history.rows() == history.rows()


def test_a_resumed_run_waits_every_s_before_its_next(tmp_path):
    from fcnn_cli import backends

    _train(tmp_path, every_s=0.0, step=0.0, max_epochs=3)
    s = _settings(max_epochs=8)
    data = datasets.load("digits")
    saved = checkpoint.load(tmp_path / "checkpoint.npz")
    backend = backends.create(s, data)
    state = checkpoint.restore(saved, backend, s)
    clock = FakeClock(1.0)
    keeper = checkpoint.Checkpointer(tmp_path / "checkpoint.npz", checkpoint.run_record(s, data),
                                     every_s=2.0, clock=clock)
    loop.run(backend, s, [Tick(clock), keeper], state=state)
    assert keeper.written == [5, 7, 8]


def test_the_setting_reaches_the_settings_with_its_default():
    assert _settings().checkpoint_every_s == 5.0
    assert _settings(checkpoint={"every_s": 0}).checkpoint_every_s == 0.0


@pytest.mark.parametrize("bad", [-1, "soon", float("nan"), True])
def test_bad_values_are_refused_in_one_line(bad):
    with pytest.raises(UsageError) as err:
        _settings(checkpoint={"every_s": bad})
    assert err.value.key == "checkpoint.every_s" and "\n" not in str(err.value)
