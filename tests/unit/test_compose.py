"""The real config tree, composed through Hydra's compose API (the compose_config fixture) and
validated in process: every option of every config group and every experiment composes into
settings `fcnn train` accepts; Problem 5.4's three runs differ only in their optimizer; the
bench's config composes with each of its options.

Validation needs no data files: `from_config` checks the memory a run needs from the datasets'
known shapes (fcnn_cli.data.dataset.SHAPES), so the MNIST and Fashion-MNIST options validate
without their IDX files."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from fcnn_cli.config import validate
from fcnn_cli.devices import gpu_devices
from fcnn_cli.errors import UsageError
from fcnn_cli.paths import conf_dir

CONF = conf_dir()
# Every option of every config group of `fcnn train` (hydra/ holds Hydra's own plugins' options).
OPTIONS = sorted((p.parent.name, p.stem) for p in CONF.glob("*/*.yaml") if p.parent.name != "hydra")
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def test_the_groups_are_all_here():
    groups = {group for group, _ in OPTIONS}
    assert groups >= {"arch", "backend", "dataset", "device", "experiment", "hparams_search",
                      "logger", "optimizer", "task"}
    assert {"ex5_1", "ex5_2", "ex5_3", "ex5_4", "p5_4_sgd", "timing"} <= set(EXPERIMENTS)


def test_the_defaults_compose_and_validate(compose_config):
    s = validate.from_train_config(compose_config())
    assert (s.backend, s.dataset, s.optimizer.name, s.task) == ("jax", "mnist", "sgd", "classify")


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_validates(compose_config, group, option):
    """`fcnn train GROUP=OPTION` on the defaults (MNIST): settings, with no data file read."""
    cfg = compose_config(f"{group}={option}")
    if group == "device" and option == "gpu" and not gpu_devices():
        with pytest.raises(UsageError) as err:  # the one option that needs this machine's GPU
            validate.from_train_config(cfg)
        assert err.value.key == "device" and "no GPU" in err.value.message
        return
    s = validate.from_train_config(cfg)
    if group in ("backend", "optimizer", "task", "dataset", "logger"):
        assert OmegaConf.select(cfg, f"{group}.name") == option
    if group == "backend":
        assert s.backend == option
    if group == "dataset":
        assert s.dataset == option


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("backend", [None, "numpy"])
def test_every_experiment_composes_and_validates(compose_config, experiment, backend):
    """Each experiment as given, and on the numpy backend (where its optimizer allows)."""
    overrides = [f"experiment={experiment}"] + ([f"backend={backend}"] if backend else [])
    s = validate.from_train_config(compose_config(*overrides))
    if backend:
        assert s.backend == backend
    assert s.max_epochs >= 1 and s.lr > 0


P5_4 = ("p5_4_sgd", "p5_4_momentum", "p5_4_adam")


def test_the_three_p5_4_runs_differ_only_in_the_optimizer(compose_config):
    """Lab Problem 5.4 (`make p5.4`): the three experiments share the network, seed and schedule
    and differ only in the optimizer and its learning rate. (The pipeline on digits:
    tests/cli/test_p5_4.py.)"""
    configs = {name: OmegaConf.to_container(compose_config(f"experiment={name}"), resolve=True)
               for name in P5_4}
    shared = {k: v for k, v in configs["p5_4_sgd"].items() if k not in ("optimizer", "lr")}
    assert shared["struct"] == [500, 250] and shared["dataset"]["name"] == "mnist"
    assert shared["backend"]["name"] == "jax"
    for config in configs.values():
        assert {k: v for k, v in config.items() if k not in ("optimizer", "lr")} == shared
    assert configs["p5_4_sgd"]["optimizer"]["momentum"] == 0
    assert configs["p5_4_momentum"]["optimizer"]["momentum"] == 0.9
    assert configs["p5_4_adam"]["optimizer"]["name"] == "adam"
    # Each has its own learning rate (chosen by make p5.4-search).
    assert len({config["lr"] for config in configs.values()}) == 3


def test_experiments_and_named_architectures_compose(compose_config):
    """What `fcnn train --cfg job` shows for them (tests/cli/test_train.py: the flag itself)."""
    ex = compose_config("experiment=ex5_2")
    assert ex.batch_size == 10 and ex.max_epochs == 12
    assert list(compose_config("arch=softmax").struct) == []
    job = compose_config("struct=[]", "lr=0.5", "dataset=digits")
    assert list(job.struct) == [] and job.lr == 0.5 and job.dataset.name == "digits"


BENCH_OPTIONS = [("dataset", p.stem) for p in sorted((CONF / "dataset").glob("*.yaml"))] + [
    ("device", p.stem) for p in sorted((CONF / "device").glob("*.yaml"))] + [
    ("optimizer", p.stem) for p in sorted((CONF / "optimizer").glob("*.yaml"))]


@pytest.mark.parametrize(("group", "option"), BENCH_OPTIONS, ids=[f"{g}={o}" for g, o in BENCH_OPTIONS])
def test_the_bench_config_composes_with_each_option(compose_config, group, option):
    """`fcnn bench GROUP=OPTION`: its checks (backends and counts), and each backend's job
    settings, before any timing."""
    from fcnn_cli.commands.bench import command as bench

    cfg = compose_config(f"{group}={option}", config_name="bench")
    chosen, counts = bench._check(cfg)
    assert chosen and counts["repeats"] >= 1
    for backend in chosen:
        if group == "device" and option == "gpu" and backend.startswith("jax") and not gpu_devices():
            with pytest.raises(UsageError, match="device"):
                bench._job_settings(cfg, backend)
            continue
        assert bench._job_settings(cfg, backend).backend == backend
