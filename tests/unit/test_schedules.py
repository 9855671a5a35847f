"""Learning-rate schedules (fcnn_cli.core.schedules): every epoch's rate exactly, the default
(exponential) bit for bit as the loop always annealed, the rate each epoch trained at recorded
in the curves on every backend, bad values refused in one line, and bitwise resume."""

from __future__ import annotations

import math

import pytest
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.schema import KEYS, SCHEDULE_NAMES
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import schedules
from fcnn_cli.data import datasets
from fcnn_cli.errors import UsageError
from fcnn_cli.training import loop


def _settings(backend: str = "numpy", **config):
    return from_config({"backend": {"name": backend}, "dataset": {"name": "digits"},
                        "struct": [12], "batch_size": 64, "seed": 3, "progress": False, **config})


def _rates(s, epochs=None):
    return [schedules.rate(s, e) for e in range(1, (epochs or s.max_epochs) + 1)]


def test_the_table_has_every_schedule_the_schema_offers():
    assert tuple(schedules.SCHEDULES) == SCHEDULE_NAMES == KEYS["schedule.name"].choices
    assert KEYS["schedule.name"].default == "exponential"


def test_exponential_is_the_loops_old_recurrence_bit_for_bit():
    s = _settings(lr=0.1, annealing=0.9, max_epochs=40)
    lr, expected = 0.1, []
    for _ in range(40):
        expected.append(lr)
        lr = lr * 0.9  # what the loop did before schedules existed
    assert _rates(s) == expected  # ==: the same floats, not approximately


def test_step_rates():
    s = _settings(lr=0.2, max_epochs=9, schedule={"name": "step", "every": 3, "factor": 0.5})
    assert _rates(s) == [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]


def test_cosine_rates_fall_from_lr_to_min_lr_over_max_epochs():
    s = _settings(lr=0.1, max_epochs=5, schedule={"name": "cosine", "min_lr": 0.01})
    expected = [0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * k / 5)) / 2 for k in range(5)]
    assert _rates(s) == expected
    assert _rates(s)[0] == 0.1
    assert schedules.rate(s, 6) == 0.01 and schedules.rate(s, 60) == 0.01  # an extended run


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_warmup_rises_linearly_into_each_schedule(name):
    s = _settings(lr=0.3, annealing=0.5, max_epochs=6,
                  schedule={"name": name, "warmup_epochs": 2, "every": 1, "factor": 0.5})
    rates = _rates(s)
    assert rates[:2] == [0.3 * 1 / 3, 0.3 * 2 / 3]
    after = {"exponential": [0.3, 0.15, 0.075, 0.0375], "step": [0.3, 0.15, 0.075, 0.0375],
             "cosine": [0.0 + (0.3 - 0.0) * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]}[name]
    assert rates[2:] == after


@pytest.mark.parametrize("backend", ["numpy", "jax", "jax-grad", "sklearn"])
def test_every_backend_trains_at_the_scheduled_rate_and_the_curves_record_it(backend):
    s = _settings(backend, lr=0.1, max_epochs=3,
                  schedule={"name": "cosine", "warmup_epochs": 1, "min_lr": 0.001})
    data = datasets.load("digits")
    seen = []
    model = backends.create(s, data)
    train_epoch = model.train_epoch
    model.train_epoch = lambda order, lr, momentum=None: (seen.append(lr), train_epoch(order, lr, momentum))
    history = loop.run(model, s)
    assert seen == _rates(s) == [r.lr for r in history.records]
    assert seen[0] == 0.05 and seen[1] == 0.1


def test_default_config_trains_exactly_as_before():
    """No schedule key given: the curves' rates are lr annealing^(k-1) by the recurrence."""
    s = _settings(lr=0.1, annealing=0.8, max_epochs=4)
    history = loop.run(backends.create(s, datasets.load("digits")), s)
    assert [r.lr for r in history.records] == [0.1, 0.1 * 0.8, 0.1 * 0.8 * 0.8, 0.1 * 0.8 * 0.8 * 0.8]


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_the_schedule_group_chooses_it_and_keeps_its_keys(compose_config, name):
    # `schedule=cosine` as the issue wrote it (a config group, like optimizer=adam), its keys
    # still set beside it; `schedule.name=...` stays the same setting (searches sweep it).
    cfg = compose_config(f"schedule={name}", "schedule.every=3", "schedule.warmup_epochs=1")
    assert cfg.schedule.name == name and cfg.schedule.every == 3 and cfg.schedule.warmup_epochs == 1
    assert cfg.schedule.factor == KEYS["schedule.factor"].default
    assert compose_config(f"schedule.name={name}").schedule == compose_config(f"schedule={name}").schedule


def test_the_default_schedule_is_the_labs_annealing(compose_config):
    assert compose_config().schedule.name == "exponential"


@pytest.mark.parametrize(("config", "key", "fragment"), [
    ({"schedule": {"name": "linear"}}, "schedule.name", "exponential, step, cosine"),
    ({"schedule": {"every": 0}}, "schedule.every", "integer from 1"),
    ({"schedule": {"factor": 0}}, "schedule.factor", "(0, 1]"),
    ({"schedule": {"factor": 1.5}}, "schedule.factor", "(0, 1]"),
    ({"schedule": {"min_lr": -0.1}}, "schedule.min_lr", ">= 0"),
    ({"schedule": {"warmup_epochs": -1}}, "schedule.warmup_epochs", "integer from 0"),
    ({"schedule": {"warmup_epochs": 5}, "max_epochs": 5}, "schedule.warmup_epochs",
     "below max_epochs"),
    ({"schedule": {"name": "cosine", "min_lr": 0.2}, "lr": 0.1}, "schedule.min_lr", "below lr"),
])
def test_bad_values_are_one_line(config, key, fragment):
    with pytest.raises(UsageError) as err:
        _settings(**config)
    assert key in str(err.value) and fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("backend", "schedule"), [
    ("numpy", {"name": "cosine", "warmup_epochs": 1, "min_lr": 0.0}),
    ("jax", {"name": "step", "every": 2, "factor": 0.3, "warmup_epochs": 1}),
    ("sklearn", {"name": "cosine", "min_lr": 0.0}),
])
def test_resume_is_bitwise(tmp_path, backend, schedule):
    s = _settings(backend, lr=0.1, max_epochs=4, schedule=schedule,
                  optimizer={"name": "sgd", "momentum": 0.9})
    reference = resume_every_epoch(tmp_path, s, datasets.load("digits"))
    assert [r.lr for r in reference.records] == _rates(s)
