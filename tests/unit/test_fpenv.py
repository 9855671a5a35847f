"""Subnormals flushed to zero while numpy trains (fcnn_cli.backends.fpenv), as XLA does on the CPU."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fcnn_cli import backends
from fcnn_cli.backends import fpenv, numpy_optim
from fcnn_cli.config.settings import OptimizerSettings, Settings
from fcnn_cli.data import datasets

needs_fpenv = pytest.mark.skipif(not fpenv.supported(),
                                 reason="no glibc fenv on this CPU: flush_subnormals changes nothing")
SMALLEST_NORMAL = np.finfo(np.float32).tiny  # 1.18e-38


def _halved(x: float) -> float:
    return float(np.float32(x) * np.float32(0.5))


def _is_subnormal(x: float) -> bool:
    return 0 < abs(x) < SMALLEST_NORMAL


@needs_fpenv
def test_flush_subnormals_flushes_inside_and_restores_outside():
    assert _is_subnormal(_halved(2e-38))  # the default: gradual underflow
    with fpenv.flush_subnormals():
        assert _halved(2e-38) == 0.0  # FTZ: a subnormal result becomes zero
        assert float(np.float32(1e-39) + np.float32(0)) == 0.0  # DAZ: a subnormal input reads as zero
        assert _halved(4e-38) == np.float32(2e-38)  # normal numbers are untouched
        seen = []
        worker = threading.Thread(target=lambda: seen.append(_halved(2e-38)))
        worker.start()
        worker.join()
        assert seen == [0.0]  # a thread started inside inherits the mode (POSIX)
    assert _is_subnormal(_halved(2e-38))


@needs_fpenv
def test_flush_subnormals_restores_after_an_exception():
    with pytest.raises(KeyboardInterrupt), fpenv.flush_subnormals():
        raise KeyboardInterrupt
    assert _is_subnormal(_halved(2e-38))


@needs_fpenv
def test_adam_moments_decay_to_zero_not_to_subnormals():
    """A weight whose gradient stops (a dead unit): beta1^t m sinks below 1.2e-38 in a few
    hundred steps; flushed, it reaches zero, as in JAX, and never takes the CPU's slow path."""
    layout = numpy_optim.FlatLayout([3, 2])
    params, grads = np.zeros(layout.size, np.float32), np.zeros(layout.size, np.float32)

    def run(flush: bool) -> np.ndarray:
        adam = numpy_optim.build(OptimizerSettings(name="adam"), layout, params.copy(), grads.copy())
        adam.grads[...] = 1.0
        adam.update(0.001, 1)
        with fpenv.flush_subnormals() if flush else np.errstate():
            for _ in range(900):  # 0.9^900 ~ 1e-41: subnormal in float32
                adam.grads[...] = 0.0
                adam.update(0.001, 1)
        return adam.slots["m"]

    unflushed = run(False)
    assert all(_is_subnormal(x) for x in unflushed)
    assert not np.any(run(True))


@needs_fpenv
def test_the_numpy_backend_trains_with_subnormals_flushed(monkeypatch):
    settings = Settings(backend="numpy", dataset="digits", dataset_path=None, struct=(8,),
                        batch_size=64, max_epochs=1, lr=0.01, annealing=1.0, dtype="float32",
                        device="cpu", optimizer=OptimizerSettings(name="adam"))
    backend = backends.create(settings, datasets.load("digits", dtype="float32"))
    seen = []
    step = backend._step

    def watched(idx, lr):
        seen.append(_halved(2e-38))
        step(idx, lr)

    monkeypatch.setattr(backend, "_step", watched)
    backend.train_epoch(np.arange(backend.data.n_train), 0.01)
    assert seen and set(seen) == {0.0}
    assert _is_subnormal(_halved(2e-38))  # and restored once the epoch is over


@needs_fpenv
def test_numpy_flushed_rounds_as_jax_does_on_the_cpu():
    """The reason for the flush: XLA's CPU runtime flushes (FTZ and DAZ), so numpy matches it."""
    jax = pytest.importorskip("jax")
    multiply, cpu = jax.jit(lambda a, b: a * b), jax.devices("cpu")[0]
    pairs = [(2e-38, 0.5), (1e-39, 1.0), (3e-38, 0.25), (4e-38, 0.5)]
    with fpenv.flush_subnormals():
        flushed = [float(np.float32(a) * np.float32(b)) for a, b in pairs]
    on_jax = [float(multiply(*jax.device_put((np.float32(a), np.float32(b)), cpu))) for a, b in pairs]
    assert flushed == on_jax
    assert flushed[:3] == [0.0, 0.0, 0.0]
