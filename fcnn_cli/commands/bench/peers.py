"""`fcnn bench peers=true` (`make peers`): the timing job written without fcnn, timed in the same
sitting as fcnn's backends and against the same floor.

Each peer is the job as someone would write it plainly with one library: the same net (ReLU
hidden layers, softmax output, cross-entropy), mini-batch SGD at the job's batch size with the
last, smaller batch kept, the rate annealed after every epoch, and curves A and C (accuracy and
loss on the whole training set) after every epoch inside the timed fit, as fcnn's loop does. The
test set is scored once after the fit, untimed. The numpy and JAX peers start from the lab's
init with the job's seed and draw each epoch's batch order as fcnn's loop does, so their curves
are fcnn's to float32 rounding (a check that they do the same job); scikit-learn and PyTorch
start from their own init and order:

- numpy: forward and backward passes with `@`, new arrays at every step, float32 throughout;
- jax: the epoch as one jitted `lax.scan` over the batches, gradients from `jax.value_and_grad`;
  compiled ahead of the fit and reported apart, as for fcnn's JAX backends;
- sklearn: scikit-learn's `MLPClassifier(solver="sgd")`, one epoch per `fit` (`warm_start`,
  `max_iter=1`, the epoch's rate as `learning_rate_init`), scored with `predict_proba`;
- torch: PyTorch on the CPU in eager mode (`nn.Sequential`, `F.cross_entropy`, `optim.SGD`),
  only where it is installed: never one of fcnn's dependencies.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset


@dataclass(frozen=True)
class Job:
    """What every peer trains: the bench's job (plain SGD, ReLU, float32)."""

    sizes: tuple[int, ...]
    batch_size: int
    lr: float
    annealing: float
    epochs: int
    seed: int
    init_range: float

    @classmethod
    def of(cls, settings: Settings, sizes: tuple[int, ...]) -> Job:
        return cls(tuple(sizes), settings.batch_size, settings.lr, settings.annealing,
                   settings.max_epochs, settings.seed, settings.init_range)


@dataclass
class Fit:
    """One peer's training: its fit time (epochs and curves), the curves, the test accuracy."""

    seconds: float
    curves: list[dict[str, float]]
    test_acc: float
    compile_seconds: float = 0.0


def _curve(epoch: int, loss: float, acc: float) -> dict[str, float]:
    return {"epoch": epoch, "train_loss": float(loss), "train_acc": float(acc)}


def _numpy_scores(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean())


def _lab_init(job: Job) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(job.seed)
    ws = [(4.90 * (rng.random((a, b)) - 0.5) * job.init_range / np.sqrt(a + b)).astype(np.float32)
          for a, b in zip(job.sizes[:-1], job.sizes[1:], strict=True)]
    return ws, [np.zeros(b, np.float32) for b in job.sizes[1:]]


def train_numpy(job: Job, data: Dataset) -> Fit:
    x, y = data.x_train.astype(np.float32), data.y_train.astype(np.int64)
    onehot = np.eye(job.sizes[-1], dtype=np.float32)[y]
    ws, bs = _lab_init(job)
    rng = np.random.default_rng([job.seed, 1])

    def forward(xb: np.ndarray) -> list[np.ndarray]:
        zs = [xb]
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            zs.append(np.maximum(zs[-1] @ w + b, 0))
        zs.append(zs[-1] @ ws[-1] + bs[-1])
        return zs

    curves, lr, n = [], job.lr, len(y)
    start = time.perf_counter()
    for epoch in range(1, job.epochs + 1):
        order = rng.permutation(n)
        for i in range(0, n, job.batch_size):
            idx = order[i:i + job.batch_size]
            zs = forward(x[idx])
            p = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
            err = (p / p.sum(axis=1, keepdims=True) - onehot[idx]) / len(idx)
            for layer in range(len(ws) - 1, -1, -1):
                dw, db = zs[layer].T @ err, err.sum(axis=0)
                if layer > 0:
                    err = (err @ ws[layer].T) * (zs[layer] > 0)
                ws[layer] -= np.float32(lr) * dw
                bs[layer] -= np.float32(lr) * db
        curves.append(_curve(epoch, *_numpy_scores(forward(x)[-1], y)))
        lr *= job.annealing
    seconds = time.perf_counter() - start
    test_acc = _numpy_scores(forward(data.x_test.astype(np.float32))[-1], data.y_test)[1]
    return Fit(seconds, curves, test_acc)


def train_jax(job: Job, data: Dataset) -> Fit:
    import jax
    import jax.numpy as jnp

    def logits_of(params: list, x: jax.Array) -> jax.Array:
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        return x @ w + b

    def loss(params: list, x: jax.Array, y: jax.Array) -> jax.Array:
        log_p = jax.nn.log_softmax(logits_of(params, x))
        return -jnp.take_along_axis(log_p, y[:, None], axis=1).mean()

    def step(params: list, batch: tuple, lr: jax.Array) -> list:
        grads = jax.grad(loss)(params, *batch)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads)

    def epoch_fn(params: list, x: jax.Array, y: jax.Array, batches: jax.Array, rest: jax.Array,
                 lr: jax.Array) -> list:
        params = jax.lax.scan(lambda p, idx: (step(p, (x[idx], y[idx]), lr), None), params,
                              batches)[0]
        return step(params, (x[rest], y[rest]), lr) if rest.shape[0] else params

    def scores(params: list, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits = logits_of(params, x)
        log_p = jax.nn.log_softmax(logits)
        return (-jnp.take_along_axis(log_p, y[:, None], axis=1).mean(),
                (logits.argmax(axis=1) == y).mean())

    cpu = jax.devices("cpu")[0]
    ws, bs = _lab_init(job)
    params = jax.device_put([(w, b) for w, b in zip(ws, bs, strict=True)], cpu)
    x, y = jax.device_put((data.x_train.astype(np.float32), data.y_train.astype(np.int32)), cpu)
    n, batch = len(data.y_train), min(job.batch_size, len(data.y_train))
    full = n // batch
    rng = np.random.default_rng([job.seed, 1])
    lr = jnp.float32(job.lr)
    orders = [rng.permutation(n).astype(np.int32) for _ in range(job.epochs)]
    start = time.perf_counter()  # compiled ahead, as fcnn's JAX backends report it apart
    epoch_c = jax.jit(epoch_fn).lower(params, x, y, orders[0][:full * batch].reshape(full, batch),
                                      orders[0][full * batch:], lr).compile()
    scores_c = jax.jit(scores).lower(params, x, y).compile()
    compile_seconds = time.perf_counter() - start

    curves = []
    start = time.perf_counter()
    for epoch, order in enumerate(orders, start=1):
        params = epoch_c(params, x, y, order[:full * batch].reshape(full, batch),
                         order[full * batch:], lr)
        curves.append(_curve(epoch, *(float(v) for v in scores_c(params, x, y))))
        lr = lr * job.annealing
    seconds = time.perf_counter() - start
    test = jax.device_put((data.x_test.astype(np.float32), data.y_test.astype(np.int32)), cpu)
    return Fit(seconds, curves, float(jax.jit(scores)(params, *test)[1]), compile_seconds)


def train_sklearn(job: Job, data: Dataset) -> Fit:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = data.x_train.astype(np.float32), data.y_train.astype(np.int64)
    mlp = MLPClassifier(hidden_layer_sizes=job.sizes[1:-1], solver="sgd", batch_size=job.batch_size,
                        learning_rate="constant", momentum=0.0, alpha=0.0, max_iter=1,
                        warm_start=True, shuffle=True, random_state=job.seed)

    def scores(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        p = mlp.predict_proba(xs)
        picked = np.clip(p[np.arange(len(ys)), ys], np.finfo(p.dtype).tiny, None)
        return float(-np.log(picked).mean()), float((p.argmax(axis=1) == ys).mean())

    curves, lr = [], job.lr
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1 is one epoch by design
        for epoch in range(1, job.epochs + 1):
            mlp.set_params(learning_rate_init=lr)
            mlp.fit(x, y)
            curves.append(_curve(epoch, *scores(x, y)))
            lr *= job.annealing
    seconds = time.perf_counter() - start
    return Fit(seconds, curves, scores(data.x_test.astype(np.float32), data.y_test.astype(np.int64))[1])


def train_torch(job: Job, data: Dataset) -> Fit:
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's own spelling
    from torch import nn

    torch.manual_seed(job.seed)
    layers: list[nn.Module] = []
    for a, b in zip(job.sizes[:-2], job.sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(job.sizes[-2], job.sizes[-1]))
    optimizer = torch.optim.SGD(model.parameters(), lr=job.lr)
    x = torch.from_numpy(data.x_train.astype(np.float32))
    y = torch.from_numpy(data.y_train.astype(np.int64))
    generator = torch.Generator().manual_seed(job.seed)

    def scores(xs: torch.Tensor, ys: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            logits = model(xs)
            return F.cross_entropy(logits, ys).item(), (logits.argmax(1) == ys).float().mean().item()

    curves = []
    start = time.perf_counter()
    for epoch in range(1, job.epochs + 1):
        order = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y), job.batch_size):
            idx = order[i:i + job.batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
        curves.append(_curve(epoch, *scores(x, y)))
        for group in optimizer.param_groups:
            group["lr"] *= job.annealing
    seconds = time.perf_counter() - start
    test = (torch.from_numpy(data.x_test.astype(np.float32)),
            torch.from_numpy(data.y_test.astype(np.int64)))
    return Fit(seconds, curves, scores(*test)[1])


@dataclass(frozen=True)
class Peer:
    """The job written plainly with one library."""

    name: str
    #: what it is, in the report
    title: str
    #: the module it needs; a peer whose module is not installed is skipped
    module: str
    train: Callable[[Job, Any], Fit]
    #: the library whose large product joins the floor when this peer runs
    floor_library: str

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


PEERS = (
    Peer("numpy", "numpy, written plainly", "numpy", train_numpy, "numpy"),
    Peer("jax", "JAX, a jitted lax.scan", "jax", train_jax, "xla"),
    Peer("sklearn", "scikit-learn's MLPClassifier", "sklearn", train_sklearn, "numpy"),
    Peer("torch", "PyTorch on the CPU", "torch", train_torch, "torch"),
)


def skipped() -> dict[str, str]:
    """The peers that cannot run here, and why."""
    return {p.name: f"{p.module} is not installed" for p in PEERS if not p.available()}


def time_peer(peer: Peer, job: Job, data: Dataset, warmup: int, repeats: int,
              progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """`warmup` untimed and `repeats` timed trainings of `peer`: its figures, as bench.json
    keeps them (the curves and test accuracy of the last)."""
    fits = []
    for run in range(warmup + repeats):
        progress(f"peer {peer.name}: " + (f"warm-up run {run + 1} of {warmup}" if run < warmup
                                          else f"timed run {run - warmup + 1} of {repeats}"))
        fit = peer.train(job, data)
        if run >= warmup:
            fits.append(fit)
    seconds = [f.seconds for f in fits]
    return {"peer": peer.name, "title": peer.title, "fit_seconds": seconds, "fit_min": min(seconds),
            "fit_median": statistics.median(seconds),
            "compile_seconds": statistics.median(f.compile_seconds for f in fits),
            "curves": fits[-1].curves, "test_acc": fits[-1].test_acc}
