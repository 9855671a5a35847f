"""`fcnn bench`: the lab's timing job on each backend, measured against this machine's floor.

Each backend trains the job through the shared loop (so curves A and C after every epoch are in
the timed fit, as in `fcnn train`), `repeats` times after `warmup` untimed runs; then the test
set is predicted `predict_repeats` times. Compilation is reported apart from fit time. With an
optimizer other than plain SGD, plain SGD is timed too, run for run interleaved with it, so that
"x sgd" (the ratio of the median fit times) compares the two under the same load. With
`peers=true` the same job written plainly with numpy, JAX, scikit-learn and PyTorch (peers.py)
is timed after fcnn's backends, against the same floor.

The floor (floor.py) is the job's floating-point work at the fastest large float32 product any
library in the run reaches; ratios to it travel between machines, absolute seconds do not. It is
measured before, between and after the backends; the best counts. The gemm floor (gemm_floor.py)
is the job's own products alone, timed at the same points: "x gemm floor" says how much of a fit
is everything else. numpy's BLAS, its kernel and threads are named (blas_info.py), with what
OPENBLAS_CORETYPE costs where it holds OpenBLAS to another kernel. Progress goes to stderr: a
status line on a terminal, one plain line per step anywhere else. The report: render.py.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnn_cli.commands.bench import floor as floors
from fcnn_cli.commands.bench import render
from fcnn_cli.commands.bench.render import LAB_TIMING
from fcnn_cli.errors import UsageError
from fcnn_cli.hydra_app.callbacks import guarded_task

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

__all__ = ["LAB_TIMING", "bench", "hydra_task"]

Progress = Callable[[str], None]


def _check(cfg: Any) -> tuple[list[str], dict[str, Any]]:
    """The backends to run and the bench's own counts, checked before any work."""
    from fcnn_cli.config.backends import BACKENDS as REGISTRY
    from fcnn_cli.config.schema import BENCH, KEYS
    from fcnn_cli.config.suggest import check_known

    check_known(cfg, BENCH)
    chosen = cfg.get("backends")
    if chosen is None:
        chosen = list(REGISTRY)
    elif isinstance(chosen, str) or not hasattr(chosen, "__iter__"):
        raise UsageError("backends", f"must be a list such as [numpy,jax]; got {chosen!r}")
    chosen = list(chosen)
    if not chosen:
        raise UsageError("backends", f"choose at least one of {', '.join(REGISTRY)}")
    for name in chosen:
        if name not in REGISTRY:
            raise UsageError("backends", f"unknown backend {name!r}; choose from {', '.join(REGISTRY)}")
    if len(set(chosen)) != len(chosen):
        raise UsageError("backends", f"lists a backend twice: {chosen}")
    # The switches by the schema's rule: peers=maybe is refused, not taken as true.
    counts = {key: KEYS[key].check(cfg.get(key, KEYS[key].default))
              for key in ("sgd_reference", "profile", "peers", "lab_reference")}
    for key, minimum in (("repeats", 1), ("warmup", 0), ("predict_repeats", 1),
                         ("floor_matmul_size", 16), ("floor_repeats", 1)):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UsageError(key, f"must be an integer >= {minimum}, got {value!r}")
        counts[key] = value
    return chosen, counts


def _job_settings(cfg: Any, backend: str, optimizer_yaml: str | None = None) -> Settings:
    """The checked Settings of the job on `backend`: its conf/backend YAML, no progress, no plot.

    `optimizer_yaml` names a conf/optimizer option (with its lr) that replaces the job's own.
    `device` applies to the backends that can use a GPU; the others run on the CPU."""
    from omegaconf import OmegaConf

    from fcnn_cli.config import validate
    from fcnn_cli.config.backends import BACKENDS as REGISTRY
    from fcnn_cli.paths import conf_dir

    job = OmegaConf.to_container(cfg, resolve=True)
    backend_yaml = conf_dir() / "backend" / f"{backend}.yaml"
    job["backend"] = OmegaConf.to_container(OmegaConf.load(backend_yaml)) if backend_yaml.is_file() \
        else {"name": backend}
    if optimizer_yaml is not None:
        job.update(OmegaConf.to_container(OmegaConf.load(conf_dir() / "optimizer" / optimizer_yaml)))
    if not REGISTRY[backend].gpu:
        job["device"] = {"name": "cpu"}
    job.update(progress=False, plot=False, val_fraction=0.0)
    return validate.from_config(job)


def _is_plain_sgd(s: Settings) -> bool:
    return s.optimizer.name == "sgd" and not s.optimizer.momentum and not s.optimizer.alpha


def _check_peers(job: Settings) -> None:
    """The peers train the plain job: refuse what they do not write (one line, before any work)."""
    if not _is_plain_sgd(job):
        raise UsageError("peers", "the peers train with plain SGD; drop optimizer=... (or peers=true)")
    if job.activation != "relu":
        raise UsageError("peers", f"the peers use ReLU; drop activation={job.activation}")
    if job.dtype != "float32":
        raise UsageError("peers", f"the peers train in float32; drop dtype={job.dtype}")


def _time_backend(variants: list[Settings], data: Dataset, counts: dict[str, Any],
                  progress: Progress = lambda _: None) -> list[dict[str, Any]]:
    """Train and predict each of `variants` (one backend, different optimizers)
    `counts['warmup'] + counts['repeats']` times, run for run interleaved; their timed figures."""
    from fcnn_cli import backends
    from fcnn_cli.core import optim
    from fcnn_cli.training import loop

    runs: list[dict[str, list]] = [{"fits": [], "predicts": [], "compiles": []} for _ in variants]
    last: list[tuple[Any, Any]] = [(None, None)] * len(variants)
    warmup, repeats = counts["warmup"], counts["repeats"]
    for run in range(warmup + repeats):
        for i, s in enumerate(variants):
            which = f"warm-up run {run + 1} of {warmup}" if run < warmup \
                else f"timed run {run - warmup + 1} of {repeats}"
            progress(f"{s.backend}{'' if len(variants) == 1 else ', ' + optim.describe(s.optimizer)}: "
                     f"{which}")
            backend = backends.create(s, data)
            history = loop.run(backend, s)
            backend.predict(data.x_test)  # warm-up (a JIT backend compiled it already)
            times = []
            for _ in range(counts["predict_repeats"]):
                start = time.perf_counter()
                backend.predict(data.x_test)
                times.append(time.perf_counter() - start)
            if run >= warmup:
                runs[i]["fits"].append(history.fit_seconds)
                runs[i]["predicts"].append(statistics.median(times))
                runs[i]["compiles"].append(backend.compile_seconds)
            last[i] = (backend, history)
    results = []
    for s, timed, (backend, history) in zip(variants, runs, last, strict=True):
        fits = timed["fits"]
        results.append({
            "backend": s.backend,
            "optimizer": optim.describe(s.optimizer),
            "lr": s.lr,
            "device": backend.device,
            "status": history.status,
            "fit_seconds": fits,
            "fit_min": min(fits),
            "fit_median": statistics.median(fits),
            "predict_median": statistics.median(timed["predicts"]),
            "compile_seconds": statistics.median(timed["compiles"]),
            "train_loss": history.last.train_loss,
            "train_acc": history.last.train_acc,
            "test_acc": history.last.test_acc,
        })
    return results


def _measure_floor(counts: dict[str, Any], when: str, plan: list, dtype: str,
                   libraries: list[str], progress: Progress) -> dict[str, Any]:
    """Both floors, measured now: each library's large product and the job's own products."""
    from fcnn_cli.commands.bench import gemm_floor

    progress(f"measuring the floor ({when})")
    large = floors.measure(libraries, counts["floor_matmul_size"], counts["floor_repeats"], when)
    gemm = gemm_floor.measure(plan, dtype, counts["floor_repeats"])
    return {**large, "gemm_seconds": gemm["seconds"], "gemm_sequences": gemm["sequences"]}


def _floor(measurements: list[dict[str, Any]], gflop: float, counts: dict[str, Any],
           plan: list, first: Settings, n_train: int) -> dict[str, Any]:
    """The floor's record in bench.json: the fastest library's, the gemm floor, every measurement."""
    from fcnn_cli.commands.bench import gemm_floor
    from fcnn_cli.config.backends import NUMPY_EVAL_ROWS

    best_gemm = min(measurements, key=lambda m: m["gemm_seconds"])
    return {**floors.combine(measurements, gflop), "matmul_size": counts["floor_matmul_size"],
            "dtype": "float32",
            "gemm": {"seconds": best_gemm["gemm_seconds"], "dtype": first.dtype,
                     "batch_size": min(first.batch_size, n_train),
                     "eval_rows": min(NUMPY_EVAL_ROWS, n_train),
                     "gflop": gemm_floor.plan_flop(plan) / 1e9,
                     "sequences": best_gemm["gemm_sequences"]},
            "measurements": [{k: v for k, v in m.items() if k != "gemm_sequences"}
                             for m in measurements]}


def bench(cfg: Any, run_dir: Path, progress: Progress = lambda _: None) -> dict[str, Any]:
    """Run the benchmark described by `cfg`; write bench.json and bench.md to `run_dir`.
    `progress` is told each step as it starts."""
    from fcnn_cli.backends import threads
    from fcnn_cli.commands.bench import blas_info, gemm_floor
    from fcnn_cli.config.backends import NUMPY_EVAL_ROWS
    from fcnn_cli.core import model, optim
    from fcnn_cli.data import datasets
    from fcnn_cli.runs import record
    from fcnn_cli.runs.layout import BENCH
    # Compile times are compiling: JAX's persistent cache (backends/jax_cache.py) would make
    # every run after the warm-up read its programs from disk instead.
    os.environ["FCNN_JAX_CACHE"] = "0"
    chosen, counts = _check(cfg)
    jobs = []  # per backend: the job's Settings, after plain SGD's when that is the reference
    for name in chosen:  # every setting checked up front
        job = _job_settings(cfg, name)
        reference = counts["sgd_reference"] and not _is_plain_sgd(job)
        jobs.append([_job_settings(cfg, name, "sgd.yaml"), job] if reference else [job])
    first = jobs[0][-1]
    peers_to_run = []
    if counts["peers"]:
        from fcnn_cli.commands.bench import peers

        _check_peers(first)
        peers_to_run = [p for p in peers.PEERS if p.available()]
    libraries = list(dict.fromkeys(["numpy", "xla"] + [p.floor_library for p in peers_to_run]))
    progress(f"loading {first.dataset}")
    data = datasets.load(first.dataset, first.dataset_path, first.dtype, 0.0, first.seed, first.classes)

    sizes = model.layer_sizes(data.n_features, first.struct, data.n_classes)
    gflop = floors.job_gflop(sizes, data.n_train, first.max_epochs)
    plan = gemm_floor.job_plan(sizes, data.n_train, first.batch_size, NUMPY_EVAL_ROWS, first.max_epochs)
    measurements = [_measure_floor(counts, "before", plan, first.dtype, libraries, progress)]
    blas = threads.numpy_blas()
    held = None
    if os.environ.get(blas_info.VARIABLE):
        progress(f"numpy's BLAS with {blas_info.VARIABLE} unset, for comparison")
        held = blas_info.held_kernel(blas, max(measurements[0]["rates"]["numpy"]),
                                     counts["floor_matmul_size"], counts["floor_repeats"])
    results = []
    for variants in jobs:
        if results:
            measurements.append(_measure_floor(counts, f"before {variants[0].backend}", plan,
                                               first.dtype, libraries, progress))
        timed = _time_backend(variants, data, counts, progress)
        if len(timed) == 2:
            timed[1]["ratio_to_sgd"] = timed[1]["fit_median"] / timed[0]["fit_median"]
        results += timed
    peer_results = []
    for peer in peers_to_run:
        measurements.append(_measure_floor(counts, f"before peer {peer.name}", plan, first.dtype,
                                           libraries, progress))
        peer_results.append(peers.time_peer(peer, peers.Job.of(first, tuple(sizes)), data,
                                            counts["warmup"], counts["repeats"], progress))
    measurements.append(_measure_floor(counts, "after", plan, first.dtype, libraries, progress))
    floor = _floor(measurements, gflop, counts, plan, first, data.n_train)
    for result in results:
        result.update(floors.ratio(result["fit_median"], floor))
        result["ratio_to_gemm_floor"] = result["fit_median"] / floor["gemm"]["seconds"]

    report: dict[str, Any] = {
        "dataset": first.dataset,
        "n_train": data.n_train,
        "n_test": int(data.x_test.shape[0]),
        "job": {"struct": list(first.struct), "activation": first.activation,
                "max_epochs": first.max_epochs, "batch_size": first.batch_size, "lr": first.lr,
                "annealing": first.annealing, "dtype": first.dtype, "seed": first.seed,
                "optimizer": optim.describe(first.optimizer)},
        "repeats": counts["repeats"],
        "warmup": counts["warmup"],
        "floor": floor,
        "blas": blas,
        "results": results,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "versions": record.versions(),
    }
    if held is not None:
        report["held_kernel"] = held
    if counts["peers"]:
        fcnn = render.job_rows(results)
        fastest = min(fcnn, key=lambda r: r["fit_median"])
        for result in peer_results:
            result.update(floors.ratio(result["fit_median"], floor))
            result["ratio_to_fcnn"] = result["fit_median"] / fastest["fit_median"]
        report["peers"] = {"fcnn": fastest["backend"], "results": peer_results,
                           "skipped": peers.skipped()}
    if counts["lab_reference"]:
        report["lab"] = LAB_TIMING
    if counts["profile"]:  # after the timing, so that it never slows a timed fit
        from fcnn_cli.commands.bench import profile

        found = {}
        for variants in jobs:
            progress(f"profile of {variants[-1].backend}")
            found[variants[-1].backend] = profile.profile(variants[-1], data, counts["floor_repeats"],
                                                          floor["gemm"])
        report["profile"] = {name: p for name, p in found.items() if p is not None}
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write_json(run_dir / BENCH, report)
    (run_dir / "bench.md").write_text(render.markdown(report))
    return report


@guarded_task
def hydra_task(cfg: Any) -> None:
    """The Hydra task behind `fcnn bench`."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with render.Steps() as steps:
        report = bench(cfg, run_dir, steps)
    render.print_report(report)
    print(f"bench.json and bench.md in {run_dir}", flush=True)
