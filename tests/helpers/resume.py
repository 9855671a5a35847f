"""Bitwise resume, shared by tests/unit/test_checkpoint_resume.py, tests/cli/test_resume.py and
the tests of schedules, early stopping, augmentation and dropout: train once keeping every
epoch's checkpoint, then restore each into a backend and train on; every resumed run must end on
the very parameters, optimizer state and curves of the uninterrupted one (what
tests/cli/test_resume.py proves with real signals)."""

from __future__ import annotations

from pathlib import Path

from fcnn_cli import backends
from fcnn_cli.config.validate import from_config
from fcnn_cli.training import checkpoint, loop

# The optimizers every resume test trains with, and a small digits net of EPOCHS epochs.
OPTIMIZERS = {
    "sgd": {"lr": 0.1, "optimizer": {"name": "sgd"}},
    "nesterov": {"lr": 0.05, "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True,
                                           "alpha": 1e-3}},
    "adam": {"lr": 0.01, "optimizer": {"name": "adam"}},
}
EPOCHS = 4


def settings(backend: str, optimizer: str, **config):
    return from_config({"backend": {"name": backend}, "dataset": {"name": "digits"},
                        "struct": [12], "batch_size": 64, "max_epochs": EPOCHS,
                        "annealing": 0.8, "seed": 3, **OPTIMIZERS[optimizer], **config})


class EveryEpoch:
    """A callback that keeps a checkpoint of every epoch, in files epoch-<k>.npz."""

    def __init__(self, directory: Path, run: dict) -> None:
        self.directory, self.run = directory, run

    def on_train_start(self, backend, state) -> None:
        self.backend, self.state = backend, state

    def on_epoch_end(self, record) -> None:
        checkpoint.save(self.directory / f"epoch-{record.epoch}.npz", self.backend, self.state,
                        self.run)


def curves(history: loop.History) -> list[dict]:
    """The curves without the timing column."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.rows()]


def assert_bitwise(params, reference) -> None:
    assert len(params) == len(reference)
    for (w, b), (w0, b0) in zip(params, reference, strict=True):
        assert w.dtype == w0.dtype and w.tobytes() == w0.tobytes()
        assert b.dtype == b0.dtype and b.tobytes() == b0.tobytes()


def resume_every_epoch(tmp_path: Path, s, data) -> loop.History:
    """Train `s` on `data` once, then resume from every epoch's checkpoint; assert each resumed
    run ends bit for bit where the full run did (JAX backends are restored into the backend
    that trained, which set_state must reset entirely). Returns the full run's history."""
    backend = backends.create(s, data)
    keeper = EveryEpoch(tmp_path, checkpoint.run_record(s, data))
    reference = loop.run(backend, s, [keeper])
    params, opt_state = backend.get_state()
    final = backend.get_params()
    for k in range(1, len(reference.records)):
        if not s.backend.startswith("jax"):
            backend = backends.create(s, data)
        saved = checkpoint.load(tmp_path / f"epoch-{k}.npz")
        assert saved.epoch == k and saved.history.rows() == reference.rows()[:k]
        state = checkpoint.restore(saved, backend, s)
        history = loop.run(backend, s, state=state)
        assert curves(history) == curves(reference), f"resumed after epoch {k}"
        assert history.status == reference.status
        assert getattr(history, "stop", None) == getattr(reference, "stop", None)
        resumed_params, resumed_opt = backend.get_state()
        assert_bitwise(resumed_params, params)
        assert_bitwise(backend.get_params(), final)
        assert int(resumed_opt.step) == int(opt_state.step)
        for name, pairs in opt_state.slots.items():
            assert_bitwise(resumed_opt.slots[name], pairs)
    return reference
