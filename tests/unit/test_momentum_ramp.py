"""SGD's momentum rising over the first epochs (optimizer.momentum_start -> optimizer.momentum over
optimizer.momentum_epochs), as Srivastava et al. 2014 train their dropout nets: the epoch's value
(core.schedules.momentum), the update against optax with the momentum injected per step, every
backend walking the same ramp, bitwise resume in the middle of it, the one-line refusals, and
checkpoints written before these keys existed still resuming."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.settings import OptimizerSettings
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import optim, schedules
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import checkpoint, loop

RAMP = {"name": "sgd", "momentum": 0.9, "nesterov": True, "momentum_start": 0.5,
        "momentum_epochs": 3}


def _config(backend: str = "numpy", optimizer: dict | None = None, **config) -> dict:
    return {"backend": {"name": backend}, "dataset": {"name": "digits"}, "struct": [12],
            "batch_size": 64, "max_epochs": 4, "lr": 0.05, "annealing": 0.8, "seed": 3,
            "dtype": "float64", "optimizer": optimizer or RAMP, **config}


def test_the_momentum_rises_linearly_then_stays():
    s = from_config(_config(max_epochs=8))
    assert [schedules.momentum(s, e) for e in range(1, 7)] == pytest.approx(
        [0.5, 0.5 + 0.4 / 3, 0.5 + 0.8 / 3, 0.9, 0.9, 0.9])
    flat = from_config(_config(optimizer={**RAMP, "momentum_epochs": 0}))
    assert {schedules.momentum(flat, e) for e in range(1, 5)} == {0.9}
    # a rise longer than the run (the paper's 500 epochs) is cut where the run ends
    long = from_config(_config(optimizer={**RAMP, "momentum_epochs": 40}))
    assert schedules.momentum(long, 4) == pytest.approx(0.5 + 0.4 * 3 / 40)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_at_a_changing_momentum_follows_optax_with_the_momentum_injected(nesterov):
    import jax
    import optax

    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(5, 4)), rng.normal(size=4)), (rng.normal(size=(4, 3)), rng.normal(size=3))]
    mus = np.linspace(0.5, 0.95, 20)
    grads = [[(0.3 * w + rng.normal(size=w.shape), 0.3 * b + rng.normal(size=b.shape))
              for w, b in params] for _ in mus]  # fixed per step: both walks see the same
    opt = optim.sgd(np, momentum=0.95, nesterov=nesterov)
    ours, state = params, opt.init(params)
    for g, mu in zip(grads, mus, strict=True):
        updates, state = opt.update(g, state, ours, 0.05, 10, mu)
        ours = optim.apply_updates(ours, updates)
    with jax.enable_x64(True):
        tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=mus[0], nesterov=nesterov)
        theirs, tx_state = params, tx.init(params)
        for g, mu in zip(grads, mus, strict=True):
            tx_state.hyperparams["momentum"] = mu
            updates, tx_state = tx.update(g, tx_state, theirs)
            theirs = jax.tree.map(lambda p, u: np.asarray(p + u), theirs, updates)
    for (w, b), (w_ref, b_ref) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(w, w_ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, b_ref, rtol=1e-9, atol=1e-12)
    # and the changing momentum mattered: the constant 0.95 walks elsewhere
    constant, state = params, opt.init(params)
    for g in grads:
        updates, state = opt.update(g, state, constant, 0.05, 10)
        constant = optim.apply_updates(constant, updates)
    assert np.abs(constant[0][0] - ours[0][0]).max() > 1e-3


@pytest.fixture(scope="module")
def digits64():
    return datasets.load("digits", dtype="float64")


def _train(backend: str, data, optimizer: dict | None = None, start=None):
    """The weights after training; `start`: initial weights to put in first (scikit-learn draws
    its own otherwise)."""
    s = from_config(_config(backend, optimizer))
    b = backends.create(s, data)
    if start is not None:
        b.set_state(start, optim.sgd(np, momentum=0.9).init(start))
    loop.run(b, s)
    return b.get_params()


def _assert_same(actual, expected, name):
    for (w, b), (w_ref, b_ref) in zip(actual, expected, strict=True):
        np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-9 * np.abs(w_ref).max(), err_msg=name)
        np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-9 * np.abs(b_ref).max(), err_msg=name)


def test_every_backend_walks_the_same_ramp(digits64):
    start = backends.create(from_config(_config()), digits64).get_params()
    numpy = _train("numpy", digits64)
    for name in ("jax", "jax-grad"):
        _assert_same(_train(name, digits64), numpy, name)
    # scikit-learn's SGDOptimizer from the same weights: its momentum set every epoch
    _assert_same(_train("sklearn", digits64, start=start), numpy, "sklearn")
    constant = _train("numpy", digits64, {**RAMP, "momentum_epochs": 0})
    assert np.abs(constant[0][0] - numpy[0][0]).max() > 1e-3  # the ramp was applied


@pytest.mark.parametrize("backend", ["numpy", "jax", "sklearn"])
def test_a_run_resumes_bitwise_in_the_middle_of_the_ramp(tmp_path, backend):
    s = from_config(_config(backend, dtype="float32"))
    history = resume_every_epoch(tmp_path, s, datasets.load("digits"))
    assert history.status == "completed" and len(history.records) == 4


@pytest.mark.parametrize(("optimizer", "key"), [
    ({"name": "sgd", "momentum": 0.0, "momentum_epochs": 3}, "optimizer.momentum_epochs"),
    ({"name": "adam", "momentum_epochs": 3}, "optimizer.momentum_epochs"),
    ({**RAMP, "momentum_start": 1.0}, "optimizer.momentum_start"),
    ({**RAMP, "momentum_epochs": -1}, "optimizer.momentum_epochs"),
])
def test_a_ramp_to_nothing_or_out_of_range_is_refused(optimizer, key):
    with pytest.raises(UsageError) as err:
        from_config(_config(optimizer=optimizer))
    assert err.value.key == key


def test_the_cli_refuses_a_ramp_without_momentum_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fcnn_cli", "train", "dataset=digits",
                          "optimizer.momentum_epochs=5", f"hydra.run.dir={tmp_path / 'run'}"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "fcnn: error: optimizer.momentum_epochs: the momentum rises to optimizer.momentum over "
        "these epochs: it needs optimizer=sgd with optimizer.momentum > 0; got 5"]
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_from_before_the_ramp_resumes_and_a_changed_ramp_is_named(tmp_path):
    s = from_config(_config(optimizer={"name": "sgd", "momentum": 0.9}))
    data = datasets.load("digits", dtype="float64")
    run = checkpoint.run_record(s, data)
    old = {**run, "optimizer": {k: v for k, v in run["optimizer"].items()
                                if k not in ("momentum_start", "momentum_epochs")}}
    saved = SimpleNamespace(run=old)  # what `differences` reads of a loaded Checkpoint
    assert checkpoint.differences(saved, run) == []
    ramped = checkpoint.run_record(from_config(_config(optimizer={**RAMP, "nesterov": False})), data)
    assert [d.split(":")[0] for d in checkpoint.differences(saved, ramped)] == ["optimizer"]


def test_tables_name_the_ramp():
    assert optim.describe(OptimizerSettings(**RAMP)) == "sgd nesterov 0.9 (from 0.5 over 3 epochs)"
    assert optim.describe({"name": "sgd", "momentum": 0.9}) == "sgd momentum 0.9"
