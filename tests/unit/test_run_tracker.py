"""What the loop tells its observers, in process: epoch callbacks see each epoch as it ends, and a
resumed run's MLflow tracker logs the checkpoint's epochs before the new ones. Tracking with a
real MLflow store and server: tests/cli/test_tracking.py."""

from __future__ import annotations

import pytest

from fcnn_cli.training import loop


def test_loop_callbacks_see_each_epoch_as_it_ends():
    from fcnn_cli import backends
    from fcnn_cli.config import validate
    from fcnn_cli.data import datasets
    from fcnn_cli.training import loop

    s = validate.from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"},
                              "struct": [8], "lr": 0.1, "max_epochs": 4, "batch_size": 32})
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed)
    backend = backends.create(s, data)
    events: list = []
    train_epoch = backend.train_epoch

    def recording_train_epoch(order, lr, momentum=None):
        events.append("train")
        return train_epoch(order, lr, momentum)

    backend.train_epoch = recording_train_epoch

    class Recorder:
        def on_epoch_end(self, record):
            events.append(record)

    history = loop.run(backend, s, callbacks=[Recorder(), Recorder()])
    # Live: both observers see epoch k before epoch k + 1 trains, with the history's own record.
    assert events == [x for r in history.records for x in ("train", r, r)]
    assert [r.epoch for r in history.records] == [1, 2, 3, 4]


def test_a_resumed_run_logs_its_earlier_epochs_to_mlflow_first():
    """The tracker of a resumed run logs the epochs the checkpoint holds, then the new ones."""
    from fcnn_cli.hydra_app.tracking import RunTracker

    class Client:
        def __init__(self) -> None:
            self.steps: list[int] = []

        def log_batch(self, run_id, metrics=(), params=(), synchronous=True) -> None:
            self.steps += sorted({m.step for m in metrics})

        def set_terminated(self, run_id, status) -> None:
            pass

    pytest.importorskip("mlflow")
    records = [loop.EpochRecord(e, 0.1, 1.0 / e, 0.5, 0.5, None, float(e)) for e in (1, 2)]
    state = loop.LoopState(loop.History(records=records), 0.1, loop.batch_rng(1))
    client = Client()
    tracker = RunTracker(client, "run")
    tracker.on_train_start(None, state)
    tracker.on_epoch_end(loop.EpochRecord(3, 0.1, 0.3, 0.6, 0.6, None, 3.0))
    tracker.end("FINISHED")
    assert client.steps == [1, 2, 3]
