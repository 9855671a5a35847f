"""'Did you mean': a misspelled or foreign key, a subcommand, a report column."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from fcnn_cli.config import suggest
from fcnn_cli.config.reference import group_defaults
from fcnn_cli.config.schema import BENCH, KEYS, TRAIN, keys_of, primary_defaults
from fcnn_cli.errors import UsageError, did_you_mean


@pytest.mark.parametrize("typed, meant", [
    ("learning_rate", "lr"), ("learning_rate_init", "lr"), ("epochs", "max_epochs"),
    ("max_iter", "max_epochs"), ("hidden", "struct"), ("hidden_layer_sizes", "struct"),
    ("random_state", "seed"), ("momentum", "optimizer.momentum"),
    ("optimizer.momentun", "optimizer.momentum"), ("batchsize", "batch_size"),
    ("max_epoch", "max_epochs"), ("probe.layers", "probe.layer"), ("validation_fraction", "val_fraction"),
    ("bakend", "backend=OPTION"), ("solver", "optimizer=OPTION"), ("datset", "dataset=OPTION"),
    # issue 21's own names and other tools' for regularisation (dropout=0.5 suggested
    # dropout.input by spelling alone)
    ("dropout", "dropout.hidden"), ("input_dropout", "dropout.input"),
    ("n_iter_no_change", "early_stopping.patience"), ("tol", "early_stopping.min_delta"),
    ("scheduler", "schedule=OPTION"), ("warmup_epochs", "schedule.warmup_epochs"),
    ("shift", "augment.shift"),
    # distortions: Keras' and torchvision's names, and a key missing its group
    ("elastic", "augment.elastic.alpha"), ("rotation_range", "augment.rotate"),
    ("zoom_range", "augment.scale"), ("shear", "augment.shear"),
    ("elastic.sigma", "augment.elastic.sigma"), ("augment.rotation", "augment.rotate"),
])
def test_suggestion_by_spelling_and_by_other_tools_names(typed, meant):
    assert suggest.suggestion(typed) == meant


def test_no_suggestion_for_a_name_like_nothing():
    assert suggest.suggestion("xyzzy_plugh") is None
    assert "did you mean" not in suggest.no_such_setting("xyzzy_plugh")


def test_every_suggestion_is_a_key_or_group_of_the_app():
    names = {k.name for k in keys_of(TRAIN)}
    for foreign in suggest.FOREIGN:
        hint = suggest.suggestion(foreign)
        assert hint is not None, foreign
        assert hint.removesuffix("=OPTION") in names | set(group_defaults(TRAIN)), (foreign, hint)


def test_bench_suggests_its_own_keys():
    assert suggest.suggestion("repeat", BENCH) == "repeats"
    assert suggest.suggestion("probe.layer", BENCH) != "probe.layer"


def _train_config(**extra):
    cfg = primary_defaults(TRAIN)
    cfg.update({"backend": {"name": "numpy"}, "dataset": {"name": "digits", "path": None,
                "classes": None}, "optimizer": {"name": "sgd"}, **extra})
    return OmegaConf.create(cfg)


def test_check_known_refuses_a_key_fcnn_does_not_read():
    suggest.check_known(_train_config())  # the defaults pass
    suggest.check_known(_train_config(tags={"owner": "ana", "ticket": 7}))  # the user's own
    with pytest.raises(UsageError) as err:
        suggest.check_known(_train_config(learning_rate=0.5))
    assert err.value.key == "learning_rate" and "did you mean lr?" in str(err.value)
    with pytest.raises(UsageError) as err:
        suggest.check_known(_train_config(optimizer={"name": "sgd", "momentun": 0.9}))
    assert err.value.key == "optimizer.momentun" and "optimizer.momentum" in str(err.value)


def test_check_known_takes_every_declared_key():
    cfg = {}
    for key in KEYS.values():
        if TRAIN in key.apps:
            *parents, leaf = key.name.split(".")
            node = cfg
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = key.default
    suggest.check_known(OmegaConf.create(cfg))


def test_did_you_mean():
    assert did_you_mean("trian", ["train", "bench"]) == "did you mean train? "
    assert did_you_mean("zzz", ["train", "bench"]) == ""


def test_a_key_of_another_group_option_is_named_so_not_suggested_as_itself():
    message = suggest.no_such_setting("optimizer.momentum")  # given with optimizer=adam
    assert message.startswith("not a setting of the optimizer chosen; it is read with another "
                              "optimizer=OPTION (sgd: momentum")
    assert "did you mean" not in message
