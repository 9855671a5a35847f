"""Every config key, declared once: its kind, its range or choices, its default and its meaning.

This table is what validation (`fcnn_cli.config.validate`: the one-line errors), `fcnn train
--help` and `fcnn bench --help`, the "did you mean" of a misspelled key and
`docs/reference/config.md` (`fcnn_cli.config.reference`) all read. The defaults of the keys that
no config group sets reach Hydra from here too: `hydra_app.app.register_defaults()` stores them as
the config node `fcnn_keys`, which conf/config.yaml and conf/bench.yaml list first in their
defaults. A key that a group option sets (`optimizer.momentum` in conf/optimizer/sgd.yaml) is
declared here with the default option's value; a test holds every option's values to these
ranges and defaults.

Rules are data, as scikit-learn's `_parameter_constraints` are: a key is checked by its kind and
bounds alone; the few rules between keys (a backend's optimizers, a probe's layer) live in
`validate.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fcnn_cli.config.backends import BACKENDS
from fcnn_cli.data.dataset import DATASETS
from fcnn_cli.devices import DEVICES
from fcnn_cli.errors import UsageError

# scikit-learn's random_state (and numpy's legacy RandomState) take seeds below 2**32.
MAX_SEED = 2**32 - 1
# Far beyond any real run, and within what every backend's integer arithmetic takes.
MAX_COUNT = 2**31 - 1

ACTIVATIONS = ("relu", "sigmoid", "tanh")
DTYPES = ("float32", "float64")
TASKS = ("classify", "logreg", "autoencoder")
OPTIMIZERS = ("sgd", "adam")
#: the learning-rate schedules of fcnn_cli.core.schedules (its table has these names)
SCHEDULE_NAMES = ("exponential", "step", "cosine")
#: dropout.noise (fcnn_cli.core.regularize)
DROPOUT_NOISES = ("bernoulli", "gaussian")
#: adversarial.norm (fcnn_cli.core.adversarial)
ADVERSARIAL_NORMS = ("linf", "l2")
LOGGERS = ("none", "mlflow")
# What a run returns to a sweeper: objective -> (metric on the validation set, the training-set
# fallback when there is no validation set, sign: +1 maximised, -1 a loss, negated).
OBJECTIVES: dict[str, tuple[str, str, float]] = {
    "val_acc": ("val_acc", "train_acc", 1.0),
    "val_loss": ("val_loss", "train_loss", -1.0),
    "probe_val_acc": ("probe_val_acc", "probe_train_acc", 1.0),
}

TRAIN, BENCH = "train", "bench"


@dataclass(frozen=True)
class Key:
    """One config key.

    kind: number | integer | boolean | choice | sizes (a list of layer sizes) | classes (a list of
    distinct labels) | path | text | layer (a hidden layer number or "code") | names (a list of
    choices).
    """

    name: str
    kind: str
    default: Any
    meaning: str
    #: bounds of a number or integer; an open bound excludes its value
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    #: the allowed values of a choice (or of each item of names)
    choices: tuple[str, ...] = ()
    #: null is allowed (and means what `meaning` says)
    nullable: bool = False
    #: the config group whose options set this key (None: a key of the primary config)
    group: str | None = None
    #: the apps that read it, and a different default in one of them
    apps: tuple[str, ...] = (TRAIN,)
    app_defaults: dict[str, Any] = field(default_factory=dict)

    def default_in(self, app: str) -> Any:
        return self.app_defaults.get(app, self.default)

    def check(self, value: Any, name: str | None = None) -> Any:
        """`value` checked against this key's rule, normalised (an int number as float, a list
        as a tuple); UsageError naming the key (or `name`) and what is allowed otherwise."""
        name = name or self.name
        if value is None and self.nullable:
            return None
        return CHECKS[self.kind](self, name, value)

    def allowed(self) -> str:
        """What may be given, in a few words, for --help and the reference page."""
        text = ALLOWED[self.kind](self)
        return f"{text}, or null" if self.nullable else text


def _interval_text(key: Key) -> str:
    if key.high is None:
        return f"> {_num(key.low)}" if key.low_open else f">= {_num(key.low)}"
    return (f"in {'(' if key.low_open else '['}{_num(key.low)}, {_num(key.high)}"
            f"{')' if key.high_open else ']'}")


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_number(key: Key, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(name, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise UsageError(name, f"must be a finite number, got {value!r}")
    value = float(value)
    if key.low is None:
        return value
    too_low = value <= key.low if key.low_open else value < key.low
    too_high = key.high is not None and (value >= key.high if key.high_open else value > key.high)
    if too_low or too_high:
        if key.high is None:
            raise UsageError(name, f"must be a finite number {_interval_text(key)}, got {value}")
        raise UsageError(name, f"must be {_interval_text(key)}, got {value}")
    return value


def _check_integer(key: Key, name: str, value: Any) -> int:
    low = int(key.low if key.low is not None else 0)
    high = int(key.high if key.high is not None else MAX_COUNT)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(name, f"must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_boolean(key: Key, name: str, value: Any) -> bool:
    # Only true or false: `plot=no` or `progress=1` would otherwise read as true.
    if not isinstance(value, bool):
        raise UsageError(name, f"must be true or false, got {value!r}")
    return value


def _check_choice(key: Key, name: str, value: Any) -> str:
    if value not in key.choices:
        raise UsageError(name, f"must be one of {', '.join(key.choices)}; got {value!r}")
    return value


def _is_list(value: Any) -> bool:
    return not isinstance(value, str | int | float | bool) and hasattr(value, "__iter__")


def _check_sizes(key: Key, name: str, value: Any) -> tuple[int, ...]:
    """Positive layer sizes; [] (softmax regression) is allowed."""
    if value is None:
        value = []
    if not _is_list(value):
        raise UsageError(name, f"must be a list of positive integers such as [500,250]; got {value!r}")
    sizes = list(value)
    for i, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UsageError(f"{name}[{i}]", f"hidden layer sizes must be positive integers; got "
                                             f"{size!r}")
    return tuple(sizes)


def _check_classes(key: Key, name: str, value: Any) -> tuple[int, ...]:
    if not _is_list(value):
        raise UsageError(name, f"must be a list of distinct class labels such as [3,8]; got {value!r}")
    labels = list(value)
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise UsageError(name, f"class labels are integers >= 0; got {label!r}")
    if not labels:
        raise UsageError(name, "must name at least one class, e.g. [3,8]; null keeps them all")
    repeated = sorted({c for c in labels if labels.count(c) > 1})
    if repeated:
        raise UsageError(name, f"must name distinct classes; {', '.join(map(str, repeated))} "
                               f"appears twice in {labels}")
    return tuple(labels)


def _check_path(key: Key, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(name, f"must be {key.allowed()}; got {value!r}")
    return value


def _check_layer(key: Key, name: str, value: Any) -> int | str:
    if value != "code" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(name, f"must be a hidden layer number >= 1 or code; got {value!r}")
    return value


def _check_names(key: Key, name: str, value: Any) -> tuple[str, ...]:
    if not _is_list(value):
        raise UsageError(name, f"must be a list such as [{','.join(key.choices[:2])}]; got {value!r}")
    names = list(value)
    if not names:
        raise UsageError(name, f"choose at least one of {', '.join(key.choices)}")
    for item in names:
        if item not in key.choices:
            raise UsageError(name, f"unknown value {item!r}; choose from {', '.join(key.choices)}")
    if len(set(names)) != len(names):
        raise UsageError(name, f"lists a value twice: {names}")
    return tuple(names)


CHECKS: dict[str, Callable[[Key, str, Any], Any]] = {
    "number": _check_number, "integer": _check_integer, "boolean": _check_boolean,
    "choice": _check_choice, "sizes": _check_sizes, "classes": _check_classes,
    "path": _check_path, "text": _check_path, "layer": _check_layer, "names": _check_names,
}

ALLOWED: dict[str, Callable[[Key], str]] = {
    "number": lambda k: "a number" + (f" {_interval_text(k)}" if k.low is not None else ""),
    "integer": lambda k: (f"an integer >= {_num(k.low)}" if k.high is None
                          else f"an integer from {_num(k.low)} to {_num(k.high)}"),
    "boolean": lambda k: "true or false",
    "choice": lambda k: " | ".join(k.choices),
    "sizes": lambda k: "a list of positive integers, [] for none",
    "classes": lambda k: "a list of distinct labels >= 0",
    "path": lambda k: "a directory",
    "text": lambda k: "a string",
    "layer": lambda k: "a hidden layer number >= 1, or code",
    "names": lambda k: f"a list of {', '.join(k.choices)}",
}


def _keys() -> Iterator[Key]:
    both = (TRAIN, BENCH)
    # --- the net and its training ------------------------------------------------------------
    yield Key("struct", "sizes", [500, 250], "hidden layer sizes, input side first; [] is "
              "softmax regression", apps=both)
    yield Key("activation", "choice", "relu", "the hidden layers' activation",
              choices=ACTIVATIONS, apps=both)
    yield Key("init_range", "number", 1.0, "scale of the Glorot-uniform initialisation: W = "
              "4.90 (U[0,1) - 0.5) init_range / sqrt(fan_in + fan_out)", low=0, low_open=True,
              apps=both)
    yield Key("lr", "number", 0.1, "initial learning rate; its default comes with the optimizer "
              "(sgd 0.1, adam 0.001) and the task", low=0, low_open=True, apps=both)
    yield Key("annealing", "number", 0.9, "lr is multiplied by this after every epoch",
              low=0, low_open=True, high=1, apps=both, app_defaults={BENCH: 0.99})
    yield Key("schedule.name", "choice", "exponential", "the learning rate per epoch: exponential "
              "(lr annealing^(k-1)), step (lr factor^floor((k-1)/every)), cosine (from lr to "
              "min_lr over max_epochs); k counts the epochs after the warm-up",
              choices=SCHEDULE_NAMES, group="schedule")
    yield Key("schedule.every", "integer", 10, "step: epochs between two drops of the rate",
              low=1)
    yield Key("schedule.factor", "number", 0.5, "step: the rate is multiplied by this at every "
              "drop", low=0, low_open=True, high=1)
    yield Key("schedule.min_lr", "number", 0.0, "cosine: the rate it ends on (below lr)", low=0)
    yield Key("schedule.warmup_epochs", "integer", 0, "epochs of linear warm-up before the "
              "schedule: epoch e of W trains at lr e / (W + 1); 0 = none (fewer than max_epochs)",
              low=0)
    yield Key("max_epochs", "integer", 5, "epochs to train", low=1, apps=both,
              app_defaults={BENCH: 3})
    yield Key("batch_size", "integer", 50, "mini-batch size; the last, smaller batch is kept",
              low=1, apps=both, app_defaults={BENCH: 100})
    yield Key("seed", "integer", 1, "seeds the initial weights, batch order and validation split",
              low=0, high=MAX_SEED, apps=both)
    yield Key("dtype", "choice", "float32", "the floating-point type of weights and data",
              choices=DTYPES, apps=both)
    yield Key("threads", "integer", None, "BLAS threads while training (numpy, sklearn): runs "
              "are bitwise equal only on the same count; null = what the machine gives (a "
              "SLURM job: its cpus_per_task); jax's threads are not set (its results do not "
              "depend on them)", low=1, nullable=True)
    yield Key("val_fraction", "number", 0.0, "fraction of the training set held out (seeded, "
              "stratified) for validation; 0 = none", low=0, high=1, high_open=True)
    yield Key("early_stopping.patience", "integer", None, "stop when the validation accuracy "
              "(the loss, for a task without accuracy) has not improved by min_delta for this "
              "many epochs; needs val_fraction > 0; null: train all max_epochs", low=1,
              nullable=True)
    yield Key("early_stopping.min_delta", "number", 1e-4, "an epoch improves when its "
              "validation score is at least the best so far plus this (scikit-learn's tol)",
              low=0)
    yield Key("early_stopping.restore_best", "boolean", True, "after stopping, keep the best "
              "epoch's weights (model.npz, metrics.json); false: the last epoch's")
    yield Key("dropout.hidden", "number", 0.0, "inverted dropout in training: the probability "
              "that each hidden unit's output is dropped (kept ones scaled by 1/(1-p)); 0 = none; "
              "not with backend=sklearn", low=0, high=1, high_open=True)
    yield Key("dropout.input", "number", 0.0, "the same for the inputs (the pixels); 0 = none",
              low=0, high=1, high_open=True)
    yield Key("dropout.noise", "choice", "bernoulli", "what dropout at rate p multiplies each "
              "input by: bernoulli (0, or 1/(1-p) where kept) or gaussian (a draw of N(1, "
              "p/(1-p)): the same mean and variance, nothing zeroed; Srivastava et al. 2014, "
              "section 10); read only where dropout.hidden or dropout.input > 0",
              choices=DROPOUT_NOISES)
    yield Key("max_norm", "number", None, "after every update, each hidden unit's incoming "
              "weight vector is scaled down to at most this L2 norm; null = unbounded; not with "
              "backend=sklearn", low=0, low_open=True, nullable=True)
    yield Key("label_smoothing", "number", 0.0, "task=classify: train on the targets (1-e) "
              "one-hot + e/K (K classes) in place of the one-hot (Szegedy et al. 2016); losses "
              "and accuracies are still scored on the plain labels; 0 = none; not with "
              "backend=sklearn", low=0, high=1, high_open=True)
    yield Key("adversarial.eps", "number", 0.0, "adversarial training (Goodfellow et al. 2015): "
              "every batch also trains on its inputs moved by this much along the gradient of its "
              "loss by them, at the current weights (no new data, nothing drawn); e.g. 0.1 in "
              "the max norm on MNIST's [0,1] pixels; 0 = none; not with backend=sklearn", low=0)
    yield Key("adversarial.norm", "choice", "linf", "the norm adversarial.eps is measured in: "
              "linf (eps times the gradient's sign: the fast gradient sign method) or l2 (eps "
              "along the gradient, per sample; Miyato et al. 2016); read only when "
              "adversarial.eps > 0", choices=ADVERSARIAL_NORMS)
    yield Key("adversarial.weight", "number", 0.5, "the moved inputs' share of each batch's "
              "loss, w in (1 - w) L(x) + w L(x + r); Goodfellow et al. used 0.5; read only when "
              "adversarial.eps > 0", low=0, low_open=True, high=1, high_open=True)
    yield Key("augment.shift", "integer", 0, "train every epoch on copies of the images shifted "
              "by up to this many pixels each way (uniform, seeded, zero padding); image datasets "
              "only, never the validation or test set; 0 = none", low=0, high=27)
    # Distortions (Simard et al. 2003; Ciresan et al. 2010): one resampling of each training
    # image per epoch, elastic and affine together (fcnn_cli.core.augment); every strength 0 is none.
    yield Key("augment.elastic.alpha", "number", 0.0, "elastic distortion: every epoch, each "
              "training image is resampled along a random displacement field (uniform in [-1,1] "
              "per pixel, smoothed by a Gaussian of augment.elastic.sigma pixels) scaled by this "
              "many pixels; Simard et al. used 34 on MNIST; image datasets only; 0 = none", low=0)
    yield Key("augment.elastic.sigma", "number", 4.0, "the elastic field's smoothing: the "
              "Gaussian's standard deviation in pixels (small: local jitter; large: a gentle warp; "
              "4 on MNIST); read only when augment.elastic.alpha > 0", low=0, low_open=True)
    yield Key("augment.rotate", "number", 0.0, "rotate every training image, each epoch, by an "
              "angle uniform in +-this many degrees (about the centre, bilinear, zero fill); "
              "e.g. 15; 0 = none", low=0, high=180)
    yield Key("augment.scale", "number", 0.0, "scale each training image's height and width, each "
              "epoch, by factors drawn apart, uniform in [1 - this, 1 + this]; e.g. 0.15; 0 = none",
              low=0, high=1, high_open=True)
    yield Key("augment.shear", "number", 0.0, "shear every training image horizontally, each "
              "epoch, by an angle uniform in +-this many degrees; e.g. 15; 0 = none", low=0,
              high=90, high_open=True)
    # --- what a run shows, writes and returns ------------------------------------------------
    yield Key("progress", "boolean", True, "show a progress bar on stderr while training")
    yield Key("plot", "boolean", True, "write curves.png (and an autoencoder's "
              "reconstructions.png) after training")
    yield Key("objective", "choice", "auto", "what a run returns to a sweeper, on the validation "
              "set (else the training set), never the test set; auto: val_acc, or val_loss "
              "without accuracy", choices=("auto", *OBJECTIVES))
    yield Key("resume", "path", None, "a run directory to go on with from its last checkpoint; "
              "with -m, a sweep directory to continue", nullable=True)
    yield Key("checkpoint.every_s", "number", 5.0, "write checkpoint.npz after an epoch only "
              "when the last one is this many seconds old (the first epoch's, the last epoch's and "
              "one when a signal stops the run are always written); 0 = after every epoch",
              low=0)
    # --- config groups: the keys their options set -------------------------------------------
    yield Key("backend.name", "choice", "jax", "the implementation: numpy (5.2), jax (5.3), "
              "jax-grad (5.4), sklearn (5.1)", choices=tuple(BACKENDS), group="backend")
    yield Key("device.name", "choice", "cpu", "where the JAX backends run: cpu, gpu, or auto "
              "(a GPU when JAX sees one)", choices=DEVICES, group="device", apps=both)
    yield Key("dataset.name", "choice", "mnist", "the dataset: mnist (the lab's), digits "
              "(scikit-learn's 8x8 digits, shipped, for quick runs), fashion (Fashion-MNIST)",
              choices=DATASETS,
              group="dataset", apps=both)
    yield Key("dataset.path", "path", None, "the directory of the dataset's IDX files; null: "
              "the default ($FCNN_DATA_DIR or the user cache)", nullable=True, group="dataset",
              apps=both)
    yield Key("dataset.classes", "classes", None, "keep only these classes, relabelled in this "
              "order, e.g. [3,8]; null keeps them all", nullable=True, group="dataset", apps=both)
    yield Key("task.name", "choice", "classify", "what the net is trained for: classify, logreg "
              "(two classes), autoencoder", choices=TASKS, group="task")
    yield Key("optimizer.name", "choice", "sgd", "sgd (with optimizer.momentum, "
              "optimizer.nesterov) or adam; each sets its default lr", choices=OPTIMIZERS,
              group="optimizer", apps=both)
    yield Key("optimizer.momentum", "number", 0.0, "sgd: momentum mu, v = mu v - lr g, W += v "
              "(0: plain SGD)", low=0, high=1, high_open=True, group="optimizer", apps=both)
    yield Key("optimizer.nesterov", "boolean", False, "sgd: Nesterov's momentum",
              group="optimizer", apps=both)
    yield Key("optimizer.momentum_start", "number", 0.5, "sgd: the first epoch's momentum when "
              "optimizer.momentum_epochs > 0 (it rises linearly to optimizer.momentum)", low=0,
              high=1, high_open=True, group="optimizer", apps=both)
    yield Key("optimizer.momentum_epochs", "integer", 0, "sgd: epochs over which the momentum "
              "rises from optimizer.momentum_start to optimizer.momentum (0: constant)", low=0,
              group="optimizer", apps=both)
    yield Key("optimizer.alpha", "number", 0.0, "L2 penalty: weight gradients gain alpha W / "
              "batch rows (MLPClassifier's)", low=0, group="optimizer", apps=both)
    yield Key("optimizer.beta1", "number", 0.9, "adam: decay of the first moment", low=0, high=1,
              high_open=True, group="optimizer", apps=both)
    yield Key("optimizer.beta2", "number", 0.999, "adam: decay of the second moment", low=0,
              high=1, high_open=True, group="optimizer", apps=both)
    yield Key("optimizer.epsilon", "number", 1e-8, "adam: added to sqrt(vhat)", low=0,
              low_open=True, group="optimizer", apps=both)
    yield Key("logger.name", "choice", "none", "experiment tracking: none (the run directory "
              "only) or mlflow", choices=LOGGERS, group="logger")
    yield Key("logger.tracking_uri", "text", None, "mlflow: the tracking URI; null: the local "
              "store outputs/mlflow/mlflow.db", nullable=True, group="logger")
    yield Key("logger.experiment", "text", "fcnn", "mlflow: the experiment the runs go to",
              group="logger")
    # --- the probe (Problems 5.2, 5.3) -------------------------------------------------------
    yield Key("probe.layer", "layer", None, "after training, logistic regression on this hidden "
              "layer (1 = the first, or code); null: no probe", nullable=True)
    yield Key("probe.classes", "classes", [3, 8], "the probe's two classes")
    yield Key("probe.lr", "number", 0.1, "the probe's learning rate", low=0, low_open=True)
    yield Key("probe.annealing", "number", 1.0, "the probe's annealing", low=0, low_open=True,
              high=1)
    yield Key("probe.max_epochs", "integer", 20, "the probe's epochs", low=1)
    yield Key("probe.batch_size", "integer", 32, "the probe's batch size", low=1)
    # --- fcnn bench ---------------------------------------------------------------------------
    yield Key("backends", "names", None, "the backends to time; null: every backend",
              choices=tuple(BACKENDS), nullable=True, apps=(BENCH,))
    yield Key("repeats", "integer", 3, "timed runs per backend, after the warm-up", low=1,
              apps=(BENCH,))
    yield Key("warmup", "integer", 1, "untimed runs per backend first", low=0, apps=(BENCH,))
    yield Key("predict_repeats", "integer", 5, "timed predictions of the test set after each run",
              low=1, apps=(BENCH,))
    yield Key("lab_reference", "boolean", False, "show the lab's timing table (Colab, 2022) "
              "beside the results", apps=(BENCH,))
    yield Key("sgd_reference", "boolean", True, "with another optimizer than plain SGD, also "
              "time plain SGD, interleaved, and report the ratio (x sgd)", apps=(BENCH,))
    yield Key("floor_matmul_size", "integer", 2048, "the floor's square float32 matrices",
              low=16, apps=(BENCH,))
    yield Key("floor_repeats", "integer", 7, "products per floor measurement; the best counts",
              low=1, apps=(BENCH,))
    yield Key("profile", "boolean", False, "after the timing, break one mini-batch step of each "
              "backend down into its parts (products, elementwise work, update, gather, the rest)",
              apps=(BENCH,))
    yield Key("peers", "boolean", False, "after fcnn's backends, time the same job written "
              "plainly with numpy, jitted JAX, scikit-learn's MLPClassifier and PyTorch (where "
              "installed), each against the floor and fcnn's fastest backend (make peers)",
              apps=(BENCH,))


KEYS: dict[str, Key] = {key.name: key for key in _keys()}


def keys_of(app: str) -> list[Key]:
    """The keys `fcnn APP` reads, in the table's order."""
    return [key for key in KEYS.values() if app in key.apps]


def primary_defaults(app: str) -> dict[str, Any]:
    """The defaults of `app`'s keys that no config group sets, as a nested mapping: the node
    `fcnn_keys` (or `fcnn_bench_keys`) that Hydra composes first."""
    tree: dict[str, Any] = {}
    for key in keys_of(app):
        if key.group is None:
            *parents, leaf = key.name.split(".")
            node = tree
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = key.default_in(app)
    return tree


#: The config nodes of the primary configs, as conf/config.yaml and conf/bench.yaml name them.
NODES = {TRAIN: "fcnn_keys", BENCH: "fcnn_bench_keys"}


def groups() -> list[str]:
    """The config groups whose options set keys."""
    return list(dict.fromkeys(key.group for key in KEYS.values() if key.group))
