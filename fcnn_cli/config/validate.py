"""A composed config checked into `Settings`: every key by its rule in the schema, then the few
rules between keys. Every error names the key and what is allowed, in one line (UsageError)."""

from __future__ import annotations

from typing import Any

from fcnn_cli.config import memory
from fcnn_cli.config.backends import BACKENDS, gpu_backends
from fcnn_cli.config.schema import KEYS, TRAIN, Key
from fcnn_cli.config.settings import (
    DistortionSettings,
    EarlyStoppingSettings,
    OptimizerSettings,
    ProbeSettings,
    ScheduleSettings,
    Settings,
)
from fcnn_cli.config.suggest import check_known
from fcnn_cli.data.dataset import IN_MEMORY, SHAPES, Shape
from fcnn_cli.errors import UsageError

_MISSING = object()


def select(cfg: Any, name: str) -> Any:
    """cfg's value at the dotted `name`; _MISSING where a level is absent."""
    node = cfg
    for part in name.split("."):
        if node is None or not hasattr(node, "get"):
            return _MISSING
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def value(cfg: Any, name: str, key: Key | None = None, label: str | None = None) -> Any:
    """The checked value of key `name` in `cfg` (its schema default where absent)."""
    key = key or KEYS[name]
    found = select(cfg, name)
    return key.check(key.default if found is _MISSING else found, label)


def _optimizer(cfg: Any, backend: str) -> OptimizerSettings:
    name = value(cfg, "optimizer.name", label="optimizer")
    allowed = BACKENDS[backend].optimizers
    if name not in allowed:  # what this backend supports, as its registry entry declares
        raise UsageError("optimizer", f"must be one of {', '.join(allowed)}; got {name!r}")
    settings = OptimizerSettings(name=name, **{
        field: value(cfg, f"optimizer.{field}")
        for field in ("momentum", "nesterov", "momentum_start", "momentum_epochs", "alpha",
                      "beta1", "beta2", "epsilon")})
    if settings.momentum_epochs and (name != "sgd" or not settings.momentum):
        # A ramp to nothing would train as plain SGD (or Adam) and say otherwise in the record.
        raise UsageError("optimizer.momentum_epochs", "the momentum rises to optimizer.momentum "
                                                      "over these epochs: it needs optimizer=sgd "
                                                      "with optimizer.momentum > 0; got "
                                                      f"{settings.momentum_epochs}")
    return settings


def _probe(cfg: Any) -> ProbeSettings | None:
    """The `probe` block: None when probe.layer is null (no probe); its other keys are read
    only with a layer."""
    layer = value(cfg, "probe.layer")
    if layer is None:
        return None
    classes = value(cfg, "probe.classes")
    if len(classes) != 2:
        raise UsageError("probe.classes", f"the probe's logistic regression separates two "
                                          f"classes, e.g. [3,8]; got {list(classes)}")
    return ProbeSettings(layer=layer, classes=classes, **{
        field: value(cfg, f"probe.{field}")
        for field in ("lr", "annealing", "max_epochs", "batch_size")})


def _schedule(cfg: Any, lr: float, max_epochs: int) -> ScheduleSettings:
    schedule = ScheduleSettings(**{
        field: value(cfg, f"schedule.{field}")
        for field in ("name", "every", "factor", "min_lr", "warmup_epochs")})
    if schedule.warmup_epochs >= max_epochs:
        raise UsageError("schedule.warmup_epochs", f"must be below max_epochs ({max_epochs}), "
                                                   f"or no epoch follows the schedule; got "
                                                   f"{schedule.warmup_epochs}")
    if schedule.name == "cosine" and schedule.min_lr >= lr:
        raise UsageError("schedule.min_lr", f"the cosine schedule falls from lr ({lr:g}) to "
                                            f"min_lr: it must be below lr; got {schedule.min_lr:g}")
    return schedule


def _early_stopping(cfg: Any, val_fraction: float) -> EarlyStoppingSettings | None:
    # Every key checked, also while early stopping is off: a bad value is never silently kept.
    patience, min_delta, restore_best = (value(cfg, f"early_stopping.{name}")
                                         for name in ("patience", "min_delta", "restore_best"))
    if patience is None:
        return None
    if val_fraction == 0:
        raise UsageError("early_stopping.patience", "early stopping watches the validation set: "
                                                    "set val_fraction > 0 too (e.g. 0.1)")
    return EarlyStoppingSettings(patience, min_delta, restore_best)


def _augment_shift(cfg: Any, dataset: str) -> int:
    shift = value(cfg, "augment.shift")
    image = SHAPES[dataset].image if dataset in SHAPES else ()
    if shift and not image:
        raise UsageError("augment.shift", f"shifts images: the data of dataset={dataset} are not "
                                          "images (augment.shift=0)")
    if shift >= min(image or (1,)):
        raise UsageError("augment.shift", f"must be below the image's side ({min(image)} pixels "
                                          f"for dataset={dataset}); got {shift}")
    return shift


#: DistortionSettings' fields and the keys that set them
_DISTORTION_KEYS = {"elastic_alpha": "augment.elastic.alpha", "elastic_sigma": "augment.elastic.sigma",
                    "rotate": "augment.rotate", "scale": "augment.scale", "shear": "augment.shear"}


def _distortion(cfg: Any, dataset: str) -> DistortionSettings:
    distortion = DistortionSettings(**{field: value(cfg, name)
                                       for field, name in _DISTORTION_KEYS.items()})
    if not (SHAPES[dataset].image if dataset in SHAPES else ()):
        for field, name in _DISTORTION_KEYS.items():
            if field != "elastic_sigma" and getattr(distortion, field):
                raise UsageError(name, f"distorts images: the data of dataset={dataset} are not "
                                       f"images ({name}=0)")
    return distortion


def _regularizers(cfg: Any, backend: str, struct: list[int]) -> dict[str, Any]:
    """dropout.hidden, dropout.input and max_norm, on a backend that has them, and on hidden
    layers that exist (with struct=[] they would silently do nothing)."""
    found = {"dropout_hidden": value(cfg, "dropout.hidden"),
             "dropout_input": value(cfg, "dropout.input"), "max_norm": value(cfg, "max_norm"),
             "dropout_noise": value(cfg, "dropout.noise")}
    if not struct:
        for field, name, what in (("dropout_hidden", "dropout.hidden", "drops hidden units (to "
                                   "drop input pixels: dropout.input)"),
                                  ("max_norm", "max_norm", "bounds hidden units' weights")):
            if found[field]:
                raise UsageError(name, f"{what}, and struct=[] has no hidden layer")
    if not BACKENDS[backend].regularizers:
        for field, name in (("dropout_hidden", "dropout.hidden"), ("dropout_input", "dropout.input"),
                            ("max_norm", "max_norm")):
            if found[field]:
                others = ", ".join(n for n, spec in BACKENDS.items() if spec.regularizers)
                raise UsageError(name, f"backend={backend} has no dropout or max-norm "
                                       f"(scikit-learn's MLPs have neither): use {others}")
    return found


def _adversarial(cfg: Any, backend: str) -> dict[str, Any]:
    """adversarial.*, on a backend that differentiates by the inputs (the from-scratch ones)."""
    found = {"adversarial_eps": value(cfg, "adversarial.eps"),
             "adversarial_norm": value(cfg, "adversarial.norm"),
             "adversarial_weight": value(cfg, "adversarial.weight")}
    if found["adversarial_eps"] and not BACKENDS[backend].regularizers:
        others = ", ".join(n for n, spec in BACKENDS.items() if spec.regularizers)
        raise UsageError("adversarial.eps", f"backend={backend} has no adversarial training "
                                            f"(scikit-learn's MLPs train on the data as given): "
                                            f"use {others}")
    return found


def _label_smoothing(cfg: Any, backend: str, task: str) -> float:
    """label_smoothing: a classifier's, on a backend that builds its own targets."""
    smoothing = value(cfg, "label_smoothing")
    if smoothing and task != "classify":
        raise UsageError("label_smoothing", "smooths a classifier's one-hot targets: "
                                            f"task={task} has none (label_smoothing=0)")
    if smoothing and not BACKENDS[backend].regularizers:
        others = ", ".join(n for n, spec in BACKENDS.items() if spec.regularizers)
        raise UsageError("label_smoothing", f"backend={backend} trains on one-hot targets "
                                            f"(scikit-learn's MLPs have no smoothing): use {others}")
    return smoothing


def check_device(device: Any, backend: str) -> str:
    """`device` checked against `backend`: gpu needs a GPU backend and a GPU JAX can see."""
    device = KEYS["device.name"].check(device, "device")
    if device == "gpu" and not BACKENDS[backend].gpu:
        raise UsageError(
            "device",
            f"backend={backend} runs on the CPU only; device=gpu needs backend="
            f"{' or '.join(gpu_backends())} (allowed with backend={backend}: cpu, auto)",
        )
    if device == "gpu":
        from fcnn_cli.devices import gpu_devices, gpu_missing_message

        if not gpu_devices():
            raise UsageError("device", gpu_missing_message())
    return device


def _sklearn_logreg(backend: str, task: str, batch_size: int, optimizer: OptimizerSettings) -> None:
    if backend != "sklearn" or task != "logreg":
        return
    # scikit-learn's logistic regression by SGD (SGDClassifier) steps after every sample, with
    # a constant rate per epoch and no momentum.
    if batch_size != 1:
        raise UsageError("batch_size", "backend=sklearn with task=logreg trains scikit-learn's "
                                       "SGDClassifier, which updates after every sample: "
                                       f"batch_size must be 1; got {batch_size}")
    if optimizer.name != "sgd" or optimizer.momentum:
        raise UsageError("optimizer", "backend=sklearn with task=logreg trains scikit-learn's "
                                      "SGDClassifier: plain SGD (momentum 0), alpha allowed")


def from_train_config(cfg: Any) -> Settings:
    """A composed `fcnn train` config checked: no key that fcnn does not read (a `+KEY` would do
    nothing, silently), then every key as from_config checks it."""
    check_known(cfg, TRAIN)
    return from_config(cfg)


def from_config(cfg: Any, data_shape: Shape | None = None) -> Settings:
    """Check a composed Hydra config (or any mapping of the same shape) and return Settings.

    `data_shape` describes training data given as arrays (FCNNClassifier): it takes the place of
    the `dataset` block, whose name is then `dataset.IN_MEMORY`.
    """
    backend = value(cfg, "backend.name")
    if data_shape is None:
        dataset, classes = value(cfg, "dataset.name"), value(cfg, "dataset.classes")
        dataset_path = value(cfg, "dataset.path")
    else:
        dataset, classes, dataset_path = IN_MEMORY, None, None
    optimizer = _optimizer(cfg, backend)
    task = value(cfg, "task.name", label="task")
    batch_size = value(cfg, "batch_size")
    lr, max_epochs = value(cfg, "lr"), value(cfg, "max_epochs")
    schedule = _schedule(cfg, lr, max_epochs)
    _sklearn_logreg(backend, task, batch_size, optimizer)
    probe = _probe(cfg)
    objective = value(cfg, "objective")
    if objective == "probe_val_acc" and probe is None:
        raise UsageError("objective", "objective=probe_val_acc needs a probe: set probe.layer "
                                      "(a hidden layer number, or code)")
    device = select(cfg, "device.name")
    backend_cfg = select(cfg, "backend")
    backend_cfg = {} if backend_cfg is _MISSING else backend_cfg
    struct = value(cfg, "struct")
    settings = Settings(
        backend=backend, dataset=dataset, dataset_path=dataset_path,
        struct=struct, activation=value(cfg, "activation"),
        init_range=value(cfg, "init_range"), lr=lr, annealing=value(cfg, "annealing"),
        max_epochs=max_epochs, batch_size=batch_size, seed=value(cfg, "seed"),
        dtype=value(cfg, "dtype"), threads=value(cfg, "threads"),
        device=check_device("cpu" if device is _MISSING else device, backend),
        val_fraction=value(cfg, "val_fraction"), optimizer=optimizer,
        progress=value(cfg, "progress"), plot=value(cfg, "plot"),
        backend_options={k: v for k, v in dict(backend_cfg).items() if k != "name"},
        task=task, classes=classes, probe=probe, objective=objective,
        resume=value(cfg, "resume"), checkpoint_every_s=value(cfg, "checkpoint.every_s"),
        schedule=schedule, early_stopping=_early_stopping(cfg, value(cfg, "val_fraction")),
        augment_shift=_augment_shift(cfg, dataset), distortion=_distortion(cfg, dataset),
        label_smoothing=_label_smoothing(cfg, backend, task),
        **_regularizers(cfg, backend, struct), **_adversarial(cfg, backend),
    )
    check_memory(settings, data_shape)
    return settings


def check_memory(settings: Settings, shape: Shape | None = None) -> None:
    """Refuse a net that cannot fit in this machine's memory, before anything is allocated.

    `shape`: the data's size; by default the named dataset's."""
    shape = shape or SHAPES[settings.dataset]
    memory.check_fits(settings, shape.n_train, shape.n_test, shape.n_features, shape.n_classes,
                      BACKENDS[settings.backend].eval_rows)
