"""`fcnn bench`: the lab's timing job on each backend, measured against this machine's floor.

Each backend trains the job through the shared loop (so curves A and C after every epoch are in
the timed fit, as in `fcnn train`), `repeats` times after `warmup` untimed runs; then the test
set is predicted `predict_repeats` times. Compilation is reported apart from fit time. With an
optimizer other than plain SGD, plain SGD is timed too, run for run interleaved with it, so that
"x sgd" (the ratio of the median fit times) compares the two under the same load.

The floor is the job's floating-point work divided by the best float32 matrix-product rate
numpy reaches here: no implementation of the job can be faster. Ratios to the floor travel
between machines; absolute seconds do not. A neighbour's load while the rate is measured makes
the floor too slow, so it is measured before, between and after the backends and the best
measurement counts; a ratio below 1.0 is still possible on a busy machine, and is flagged as a
noisy floor rather than reported as a result.

The gemm floor (`gemm_floor`) is the job's own matrix products at its batch size and the curves'
at the numpy backend's scoring chunk, timed alone at the same points of the run (the best
counts): what the job would take if only its products cost anything. "x gemm floor" says how
much of a fit is everything else; "x floor" also counts the job's thin products being slower
than the large one.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnn_cli.errors import UsageError
from fcnn_cli.hydra_app.callbacks import guarded_task

if TYPE_CHECKING:
    from fcnn_cli.config.settings import Settings
    from fcnn_cli.data.dataset import Dataset

# The lab's timing table (Colab, 2022): fit seconds, where, predict seconds for 10,000 images,
# test accuracy.
LAB_TIMING = {
    "numpy": {"fit": 293.0, "where": "CPU", "predict": 0.333, "test_acc": 0.9646},
    "jax": {"fit": 28.8, "where": "P100 GPU", "predict": 0.0172, "test_acc": 0.9682},
    "jax-grad": {"fit": 58.2, "where": "P100 GPU", "predict": 0.0175, "test_acc": 0.9683},
}


def job_gflop(sizes: Sequence[int], n_train: int, epochs: int) -> float:
    """GFLOP of training on n_train samples for `epochs` epochs plus curves A and C each epoch.

    Per sample and epoch, with F the multiply-adds of one forward pass: the forward pass (2F),
    the weight gradients (2F), the error passed down through every layer but the input one,
    and the curve evaluation's forward pass over the whole training set (2F). Bias additions,
    activations and the softmax are lower-order and left out.
    """
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    forward = sum(products)
    propagate = sum(products[1:])
    return epochs * n_train * (6 * forward + 2 * propagate) / 1e9


def matmul_gflops(size: int = 2048, repeats: int = 7) -> float:
    """This machine's float32 matrix-product rate (GFLOP/s): the best of `repeats` products."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = a @ b  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _check(cfg: Any) -> tuple[list[str], dict[str, Any]]:
    """The backends to run and the bench's own counts, checked before any work."""
    from fcnn_cli.config.backends import BACKENDS as REGISTRY
    from fcnn_cli.config.schema import BENCH
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
    counts = {"sgd_reference": bool(cfg.get("sgd_reference", True)), "profile": bool(cfg.get("profile"))}
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


def _time_backend(variants: list[Settings], data: Dataset, counts: dict[str, Any]
                  ) -> list[dict[str, Any]]:
    """Train and predict each of `variants` (one backend, different optimizers)
    `counts['warmup'] + counts['repeats']` times, run for run interleaved; their timed figures."""
    from fcnn_cli import backends
    from fcnn_cli.core import optim
    from fcnn_cli.training import loop

    runs: list[dict[str, list]] = [{"fits": [], "predicts": [], "compiles": []} for _ in variants]
    last: list[tuple[Any, Any]] = [(None, None)] * len(variants)
    for run in range(counts["warmup"] + counts["repeats"]):
        for i, s in enumerate(variants):
            backend = backends.create(s, data)
            history = loop.run(backend, s)
            backend.predict(data.x_test)  # warm-up (a JIT backend compiled it already)
            times = []
            for _ in range(counts["predict_repeats"]):
                start = time.perf_counter()
                backend.predict(data.x_test)
                times.append(time.perf_counter() - start)
            if run >= counts["warmup"]:
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


def _measure_floor(counts: dict[str, Any], when: str, plan: list, dtype: str) -> dict[str, Any]:
    """Both floors, measured now: the large product's rate and the job's own products."""
    from fcnn_cli.commands.bench import gemm_floor

    gemm = gemm_floor.measure(plan, dtype, counts["floor_repeats"])
    return {"when": when, "gflops_rate": matmul_gflops(counts["floor_matmul_size"],
                                                       counts["floor_repeats"]),
            "gemm_seconds": gemm["seconds"], "gemm_sequences": gemm["sequences"]}


def bench(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Run the benchmark described by `cfg`; write bench.json and bench.md to `run_dir`."""
    from fcnn_cli.commands.bench import gemm_floor
    from fcnn_cli.config.backends import NUMPY_EVAL_ROWS
    from fcnn_cli.core import model, optim
    from fcnn_cli.data import datasets
    from fcnn_cli.runs import record
    from fcnn_cli.runs.layout import BENCH
    chosen, counts = _check(cfg)
    jobs = []  # per backend: the job's Settings, after plain SGD's when that is the reference
    for name in chosen:  # every setting checked up front
        job = _job_settings(cfg, name)
        reference = counts["sgd_reference"] and not _is_plain_sgd(job)
        jobs.append([_job_settings(cfg, name, "sgd.yaml"), job] if reference else [job])
    first = jobs[0][-1]
    data = datasets.load(first.dataset, first.dataset_path, first.dtype, 0.0, first.seed, first.classes)

    sizes = model.layer_sizes(data.n_features, first.struct, data.n_classes)
    gflop = job_gflop(sizes, data.n_train, first.max_epochs)
    plan = gemm_floor.job_plan(sizes, data.n_train, first.batch_size, NUMPY_EVAL_ROWS, first.max_epochs)
    measurements = [_measure_floor(counts, "before", plan, first.dtype)]
    results = []
    for variants in jobs:
        if results:
            measurements.append(_measure_floor(counts, f"before {variants[0].backend}", plan,
                                               first.dtype))
        timed = _time_backend(variants, data, counts)
        if len(timed) == 2:
            timed[1]["ratio_to_sgd"] = timed[1]["fit_median"] / timed[0]["fit_median"]
        results += timed
    measurements.append(_measure_floor(counts, "after", plan, first.dtype))
    rate = max(m["gflops_rate"] for m in measurements)
    best_gemm = min(measurements, key=lambda m: m["gemm_seconds"])
    floor = {"gflop": gflop, "gflops_rate": rate, "seconds": gflop / rate,
             "matmul_size": counts["floor_matmul_size"], "dtype": "float32",
             "gemm": {"seconds": best_gemm["gemm_seconds"], "dtype": first.dtype,
                      "batch_size": min(first.batch_size, data.n_train),
                      "eval_rows": min(NUMPY_EVAL_ROWS, data.n_train),
                      "gflop": gemm_floor.plan_flop(plan) / 1e9,
                      "sequences": best_gemm["gemm_sequences"]},
             "measurements": [{k: v for k, v in m.items() if k != "gemm_sequences"}
                              for m in measurements]}
    for result in results:
        result["ratio_to_floor"] = result["fit_median"] / floor["seconds"]
        result["ratio_to_gemm_floor"] = result["fit_median"] / floor["gemm"]["seconds"]
        # Below 1.0 is impossible for the job itself: the floor was measured under load.
        result["noisy_floor"] = result["ratio_to_floor"] < 1.0

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
        "results": results,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "versions": record.versions(),
    }
    if cfg.get("lab_reference"):
        report["lab"] = LAB_TIMING
    if counts["profile"]:  # after the timing, so that it never slows a timed fit
        from fcnn_cli.commands.bench import profile

        found = {variants[-1].backend: profile.profile(variants[-1], data, counts["floor_repeats"],
                                                       floor["gemm"]) for variants in jobs}
        report["profile"] = {name: p for name, p in found.items() if p is not None}
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write_json(run_dir / BENCH, report)
    (run_dir / "bench.md").write_text(markdown(report))
    return report


# --- presentation -------------------------------------------------------------------------------

def _has_gemm_floor(report: dict[str, Any]) -> bool:
    return "gemm" in report["floor"]


def _has_sgd_reference(report: dict[str, Any]) -> bool:
    return any("ratio_to_sgd" in r for r in report["results"])


def _columns(report: dict[str, Any]) -> list[str]:
    columns = ["backend", "device", "optimizer", "fit min s", "fit median s", "x floor"]
    if _has_gemm_floor(report):
        columns.append("x gemm floor")
    if _has_sgd_reference(report):
        columns.append("x sgd")
    columns += ["predict ms", "compile s", "test acc"]
    if "lab" in report:
        columns += ["lab fit s", "lab predict ms", "lab test acc", "lab / ours"]
    return columns


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in report["results"]:
        ratio = f"{r['ratio_to_floor']:.2f}"
        if r.get("noisy_floor"):
            ratio += " (noisy floor)"
        optimizer = r.get("optimizer", "-")
        if "lr" in r:
            optimizer += f", lr {r['lr']:g}"
        row = [r["backend"], r["device"], optimizer, f"{r['fit_min']:.2f}", f"{r['fit_median']:.2f}",
               ratio]
        if _has_gemm_floor(report):
            row.append(f"{r['ratio_to_gemm_floor']:.2f}")
        if _has_sgd_reference(report):
            row.append(f"{r['ratio_to_sgd']:.2f}" if "ratio_to_sgd" in r else "-")
        row += [f"{1e3 * r['predict_median']:.1f}", f"{r['compile_seconds']:.2f}",
                f"{100 * r['test_acc']:.2f}%"]
        if "lab" in report:
            lab = report["lab"].get(r["backend"])
            row += (
                [f"{lab['fit']:g} ({lab['where']})", f"{1e3 * lab['predict']:g}",
                 f"{100 * lab['test_acc']:.2f}%", f"{lab['fit'] / r['fit_median']:.1f}x"]
                if lab else ["-", "-", "-", "-"]
            )
        rows.append(row)
    return rows


def _summary(report: dict[str, Any]) -> list[str]:
    job, floor = report["job"], report["floor"]
    rates = [m["gflops_rate"] for m in floor.get("measurements", [])]
    best_of = f", the best of {len(rates)} measurements through the run: " + ", ".join(
        f"{rate:.0f}" for rate in rates) if len(rates) > 1 else ""
    optimizer = f"{job['optimizer']}, " if "optimizer" in job else ""
    lines = [
        f"job: {report['dataset']} ({report['n_train']} training images), struct {job['struct']}, "
        f"{job['max_epochs']} epochs, batch {job['batch_size']}, {optimizer}lr {job['lr']}, "
        f"annealing {job['annealing']}, {job['dtype']}; curves A and C after every epoch are in "
        "the fit time",
        f"floor: {floor['gflop']:.1f} GFLOP at {floor['gflops_rate']:.1f} GFLOP/s (numpy float32 "
        f"{floor['matmul_size']}x{floor['matmul_size']} matrix product, this machine's CPU, "
        f"{report['machine']['cpus']} cores{best_of}) = {floor['seconds']:.2f} s",
        f"fit: {report['repeats']} timed run(s) after {report['warmup']} warm-up; "
        "x floor = median fit / floor; predict = median over the test set; compile apart",
    ]
    if _has_gemm_floor(report):
        gemm = floor["gemm"]
        parts = ", ".join(f"{s['what']} {s['ms']:.3f} ms x {s['count']} ({s['gflops_rate']:.0f} GFLOP/s)"
                          for s in gemm["sequences"])
        times = [m["gemm_seconds"] for m in floor["measurements"] if "gemm_seconds" in m]
        best_of = f", the best of {len(times)}: " + ", ".join(f"{t:.2f}" for t in times) \
            if len(times) > 1 else ""
        lines.insert(2, f"gemm floor: the job's own {gemm['dtype']} matrix products alone "
                     f"({parts}) = {gemm['seconds']:.2f} s{best_of}; x gemm floor = median fit / it")
    if _has_sgd_reference(report):
        lines.append("x sgd = median fit over that of the same job with plain SGD on the same "
                     "backend, timed run for run in between")
    if any(r.get("noisy_floor") for r in report["results"]):
        lines.append("noisy floor: a ratio below 1.0 is impossible for the job; the machine was "
                     "busy whenever the floor was measured, so those ratios are not results "
                     "(rerun at a quiet moment)")
    if "lab" in report:
        lines.append("lab: the lab's reported timing job (Colab, 2022; numpy on its CPU, the JAX "
                     "backends on a P100 GPU); lab / ours = the lab's fit time over our median")
        if report["dataset"] != "mnist" or job["struct"] != [500, 250] or job["max_epochs"] != 3 \
                or job["batch_size"] != 100:
            lines.append("note: this run is not the lab's job (MNIST, [500,250], 3 epochs, batch "
                         "100), so the lab's numbers are not comparable")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """bench.md: the summary lines and the results as a Markdown table."""
    columns = _columns(report)
    lines = ["# fcnn bench", ""]
    lines += [f"- {line}" for line in _summary(report)]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    if report.get("profile"):
        from fcnn_cli.commands.bench import profile

        lines += ["", "## Profile: one mini-batch step, best of the floor's repeats"]
        lines += profile.markdown(report["profile"])
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    """The results as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="fcnn bench")
    for i, column in enumerate(_columns(report)):
        table.add_column(column, justify="left" if i < 3 else "right")
    for row in _rows(report):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # a pipe or a log file: never crop the table to 80 columns
        console.width = max(console.width, 160)
    for line in _summary(report):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(table)
    if report.get("profile"):
        from fcnn_cli.commands.bench import profile

        for line in profile.markdown(report["profile"]):
            console.print(line, highlight=False, soft_wrap=True, markup=False)


@guarded_task
def hydra_task(cfg: Any) -> None:
    """The Hydra task behind `fcnn bench`."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    report = bench(cfg, run_dir)
    print_table(report)
    print(f"bench.json and bench.md in {run_dir}", flush=True)
