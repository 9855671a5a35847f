"""What one compiled epoch of the lab's timing job costs on a device, and what bounds it.

    python scripts/gpu_epoch_cost.py --device gpu [--bench bench.json] [--out epoch_cost.json]

Measured in one process, on the device asked for:
- the device's float32 matrix-product rate (jax.numpy, default precision as the job uses it, and
  'highest'), the floor's denominator;
- the round trip of one tiny compiled call (dispatch, a one-element kernel, synchronise);
- one epoch as fcnn runs it (the batch order put on the device, then ONE compiled call: the
  lax.scan over the batches) for each JAX backend at batch sizes 10, 100 (the job's) and 1000.
  The samples and so the FLOPs of an epoch are the same at every batch size; only the number of
  steps changes. So the slope of epoch time over steps is the fixed cost of one step (its kernel
  launches), and the job is launch-bound when steps x that cost is most of its epoch.
With --bench (a bench.json from `fcnn bench` in the same call), each backend's median fit time is
also given as a ratio to the job's floor on this device.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fcnn_cli import backends  # noqa: E402
from fcnn_cli.commands.bench import floor as floors  # noqa: E402
from fcnn_cli.config.settings import Settings  # noqa: E402
from fcnn_cli.core import model  # noqa: E402
from fcnn_cli.data import dataset, datasets  # noqa: E402
from fcnn_cli.training import loop  # noqa: E402

BACKENDS = ("jax", "jax-grad")
# The lab's timing job (conf/bench.yaml).
JOB = {"struct": (500, 250), "batch_size": 100, "lr": 0.1, "annealing": 0.99, "max_epochs": 3}


def _sync(backend: backends.Backend) -> None:
    import jax

    params = getattr(backend, "params", None)
    if params is None:
        backend.get_params()
    else:
        jax.block_until_ready(params)


def matmul_rate(device, size: int, repeats: int, precision: str) -> float:
    """GFLOP/s of the best of `repeats` float32 products of two size x size matrices."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(0))
    a, b = (jax.device_put(jax.random.uniform(k, (size, size), jnp.float32), device) for k in keys)
    product = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
    product(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def round_trip(device, calls: int = 200) -> float:
    """Median seconds of one tiny compiled call, dispatched and waited for."""
    import jax
    import jax.numpy as jnp

    x = jax.device_put(jnp.zeros((), jnp.float32), device)
    step = jax.jit(lambda v: v + 1)
    step(x).block_until_ready()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        step(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def epoch_seconds(name: str, data: dataset.Dataset, batch: int, device: str, repeats: int
                  ) -> tuple[float, float, str]:
    """(median seconds of one epoch, compile seconds, device) of backend `name` at `batch`."""
    s = Settings(backend=name, dataset=data.name, dataset_path=None, struct=JOB["struct"],
                 batch_size=batch, lr=JOB["lr"], annealing=JOB["annealing"],
                 max_epochs=repeats + 1, device=device)
    backend = backends.create(s, data)
    rng = loop.batch_rng(s.seed)  # the loop's batch orders
    backend.train_epoch(rng.permutation(data.n_train), s.lr)  # warm-up: the first call of a compiled program
    _sync(backend)
    times = []
    for _ in range(repeats):
        order = rng.permutation(data.n_train)
        start = time.perf_counter()
        backend.train_epoch(order, s.lr)
        _sync(backend)
        times.append(time.perf_counter() - start)
    return statistics.median(times), backend.compile_seconds, backend.device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="gpu", choices=("cpu", "gpu"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--batches", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per case")
    parser.add_argument("--matmul-size", type=int, default=8192)
    parser.add_argument("--bench", type=Path, help="bench.json of the same call")
    parser.add_argument("--out", type=Path, help="write the results here (JSON)")
    args = parser.parse_args()

    import jax

    from fcnn_cli.devices import describe_device, resolve_device

    dev = resolve_device(args.device)
    data = datasets.load(args.dataset)
    sizes = model.layer_sizes(data.n_features, JOB["struct"], data.n_classes)
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    # One epoch's training work: bench's formula for an epoch less its curve evaluation.
    train_gflop = floors.job_gflop(sizes, data.n_train, 1) - 2 * sum(products) * data.n_train / 1e9
    rate = matmul_rate(dev, args.matmul_size, 10, "default")
    result = {
        "device": describe_device(dev),
        "jax": jax.__version__,
        "dataset": args.dataset,
        "n_train": data.n_train,
        "struct": list(JOB["struct"]),
        "matmul_gflops": {"default": rate,
                          "highest": matmul_rate(dev, args.matmul_size, 5, "highest"),
                          "size": args.matmul_size},
        "round_trip_us": 1e6 * round_trip(dev),
        "epoch_train_gflop": train_gflop,
        "epoch_floor_ms": 1e3 * train_gflop / rate,
        "epochs": [],
    }
    for name in BACKENDS:
        cases = []
        for batch in (int(b) for b in args.batches.split(",")):
            seconds, compile_seconds, where = epoch_seconds(name, data, batch, args.device,
                                                            args.repeats)
            steps = -(-data.n_train // batch)
            cases.append({"backend": name, "batch_size": batch, "steps": steps,
                          "epoch_ms": 1e3 * seconds, "per_step_us": 1e6 * seconds / steps,
                          "x_floor": seconds / (train_gflop / rate),
                          "compile_s": compile_seconds, "device": where})
        # Least squares of epoch time over steps: slope = fixed cost per step.
        xs, ys = [c["steps"] for c in cases], [c["epoch_ms"] for c in cases]
        slope = statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else float("nan")
        job = next((c for c in cases if c["batch_size"] == JOB["batch_size"]), None)
        share = slope * job["steps"] / job["epoch_ms"] if job else float("nan")
        for c in cases:
            c["fixed_us_per_step"] = 1e3 * slope
            c["fixed_share_of_job_epoch"] = share
        result["epochs"] += cases
    if args.bench and args.bench.is_file():
        report = json.loads(args.bench.read_text())
        floor = report["floor"]["gflop"] / rate
        result["bench"] = [{"backend": r["backend"], "fit_median_s": r["fit_median"],
                            "x_device_floor": r["fit_median"] / floor,
                            "predict_ms": 1e3 * r["predict_median"], "test_acc": r["test_acc"]}
                           for r in report["results"]]
        result["bench_floor_s"] = floor
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)


def _print(r: dict) -> None:
    rates = r["matmul_gflops"]
    print(f"epoch cost on {r['device']} (JAX {r['jax']}), {r['dataset']} ({r['n_train']} images), "
          f"struct {r['struct']}")
    print(f"float32 matmul {rates['size']}^2: {rates['default']:.0f} GFLOP/s (default precision), "
          f"{rates['highest']:.0f} (highest); one tiny compiled call round trip "
          f"{r['round_trip_us']:.0f} us")
    print(f"one epoch's training: {r['epoch_train_gflop']:.1f} GFLOP, floor {r['epoch_floor_ms']:.2f} ms")
    print(f"{'backend':9} {'batch':>6} {'steps':>6} {'epoch ms':>9} {'us/step':>8} {'x floor':>8} "
          f"{'fixed us/step':>14} {'fixed share @100':>17}")
    for c in r["epochs"]:
        print(f"{c['backend']:9} {c['batch_size']:>6} {c['steps']:>6} {c['epoch_ms']:>9.2f} "
              f"{c['per_step_us']:>8.1f} {c['x_floor']:>8.1f} {c['fixed_us_per_step']:>14.1f} "
              f"{100 * c['fixed_share_of_job_epoch']:>16.0f}%")
    for b in r.get("bench", []):
        print(f"bench {b['backend']}: fit {b['fit_median_s']:.3f} s = {b['x_device_floor']:.1f} x this "
              f"device's floor ({r['bench_floor_s'] * 1e3:.1f} ms); predict {b['predict_ms']:.1f} ms; "
              f"test {100 * b['test_acc']:.2f}%")


if __name__ == "__main__":
    main()
