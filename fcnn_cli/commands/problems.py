"""`fcnn problems`: the lab's answer to Problems 5.2 and 5.3 in one table, from two searches.

    fcnn problems --autoencoder AE_SWEEP_DIR --bottleneck BN_SWEEP_DIR [--out DIR]

Each search (`make p5.2`, `make p5.3`) trained nets with a probe on the same data, split and
probe settings. From each, the run with the best probe *validation* accuracy is chosen (ties:
fewer features, then the earlier run); the test set plays no part in the choice. The third row,
logistic regression on raw pixels, is measured here and now: the same probe code (standardised
features, the same logistic regression and schedule) on the same images, with the pixels
themselves as the features. Writes answer.md, answer.json and answer.png to --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from fcnn_cli.commands._argparse import Parser
from fcnn_cli.errors import UsageError

# What must be equal between the two searches for their rows to be compared.
SHARED = ("dataset", "dataset_path", "dtype", "val_fraction", "seed", "classes", "probe")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fcnn problems", description=__doc__.split("\n\n")[0])
    parser.add_argument("--autoencoder", type=Path, required=True, metavar="DIR",
                        help="the autoencoder search (make p5.2): runs with task=autoencoder and a probe")
    parser.add_argument("--bottleneck", type=Path, required=True, metavar="DIR",
                        help="the bottleneck search (make p5.3): runs with task=classify and a probe")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where answer.md/.json/.png go (default: outputs/problems/<time>)")
    return parser


def _trials(directory: Path, task: str) -> list[dict[str, Any]]:
    """Every completed run below `directory` with a probe, as its metrics plus path and config."""
    from fcnn_cli.runs.layout import find_runs, load_yaml

    if not directory.is_dir():
        raise UsageError(f"problems: --{'autoencoder' if task == 'autoencoder' else 'bottleneck'}",
                         f"{directory}: no such directory")
    trials = []
    for path in find_runs(directory):
        try:
            metrics = json.loads((path / "metrics.json").read_text())
        except (OSError, ValueError):
            continue
        config = load_yaml(path / ".hydra" / "config.yaml")
        if (isinstance(metrics, dict) and isinstance(config, dict) and metrics.get("status") == "completed"
                and metrics.get("task", "classify") == task
                and metrics.get("probe_val_acc") is not None):
            trials.append({**metrics, "path": str(path), "config": config})
    if not trials:
        key = "autoencoder" if task == "autoencoder" else "bottleneck"
        raise UsageError(f"problems: --{key}", f"no completed task={task} run with a probe and a "
                                               f"validation set under {directory}")
    return trials


def best(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial with the best probe validation accuracy; ties: fewer features, earlier run."""
    return max(enumerate(trials),
               key=lambda it: (it[1]["probe_val_acc"], -it[1]["probe_features"], -it[0]))[1]


def _shared(trial: dict[str, Any]) -> dict[str, Any]:
    from fcnn_cli.config import validate

    s = validate.from_config(trial["config"])
    return {key: getattr(s, key) for key in SHARED}


def raw_pixels(trial: dict[str, Any]) -> dict[str, Any]:
    """The probe's logistic regression on the pixels of the images `trial` was probed on."""
    from fcnn_cli.config import validate
    from fcnn_cli.data import datasets
    from fcnn_cli.training import probe

    s = validate.from_config(trial["config"])
    data = datasets.load(s.dataset, s.dataset_path, s.dtype, s.val_fraction, s.seed, s.classes)
    metrics, _ = probe.run(s.probe, s, data, lambda x: x, layer=0)
    return metrics


def _row(name: str, trial: dict[str, Any] | None, probed: dict[str, Any]) -> dict[str, Any]:
    if trial is None:
        structure, net_seconds = "-", 0.0
    elif trial["task"] == "autoencoder":
        encoder = trial["struct"]
        decoder = list(reversed(encoder[:-1]))
        structure = (f"encoder {_list(encoder)} ({'-'.join(map(str, ['in', *encoder, *decoder, 'in']))}),"
                     f" code = layer {probed['probe_layer']}")
        net_seconds = trial["fit_seconds"]
    else:
        structure = f"{_list(trial['struct'])}, layer {probed['probe_layer']}"
        net_seconds = trial["fit_seconds"]
    return {
        "features": name,
        "feature_size": probed["probe_features"],
        "structure": structure,
        "probe_val_acc": probed["probe_val_acc"],
        "probe_test_acc": probed["probe_test_acc"],
        "test_errors": probed["probe_test_errors"],
        "n_test": probed["probe_n_test"],
        "net_fit_seconds": net_seconds,
        "probe_fit_seconds": probed["probe_fit_seconds"],
        "run": None if trial is None else trial["path"],
    }


def _list(values: list[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def reading(rows: list[dict[str, Any]], pair: str) -> str:
    """A short reading of the table: the measured gaps, and why they fall the way they do."""
    raw, ae, bn = rows
    lines = [f"{pair} test errors out of {bn['n_test']}: raw pixels {raw['test_errors']}, "
             f"autoencoder code {ae['test_errors']}, bottleneck features {bn['test_errors']}."]
    if bn["test_errors"] < ae["test_errors"]:
        lines.append(
            f"The bottleneck layer ({bn['feature_size']} numbers) was trained with the labels of "
            "all ten digits: everything below it had to keep what tells digits apart and could "
            "drop the rest, so 3s and 8s reach it already far apart and a line separates them. "
            f"The autoencoder's code ({ae['feature_size']} numbers) was trained without labels to "
            "redraw every pixel: it spends its few numbers on what varies most across all images "
            "(stroke thickness, slant, size, position), which 3s and 8s share, while the short "
            "strokes that close an 8's loops cost little squared error and get little room.")
    else:
        lines.append("Here the autoencoder's code did at least as well as the bottleneck features, "
                     "against the usual finding; compare the searches' trials in answer.png.")
    if ae["test_errors"] > raw["test_errors"]:
        lines.append("The code is a lossy summary of the pixels, so a linear model on it does "
                     f"worse than on all {raw['feature_size']} pixels, which hold every detail, "
                     "only not arranged for a line to separate the two digits.")
    else:
        lines.append(f"Its nonlinear encoder still helps a little over the {raw['feature_size']} raw "
                     "pixels, which hold every detail but not arranged for a line to separate the "
                     "two digits.")
    return " ".join(lines)


def markdown(rows: list[dict[str, Any]], pair: str, text: str) -> str:
    lines = [f"| features | size | structure found | {pair} val acc | {pair} test acc | "
             "test errors | net fit s | probe fit s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['features']} | {r['feature_size']} | {r['structure']} | "
            f"{100 * r['probe_val_acc']:.2f}% | {100 * r['probe_test_acc']:.2f}% | "
            f"{r['test_errors']} / {r['n_test']} | {r['net_fit_seconds']:.1f} | "
            f"{r['probe_fit_seconds']:.2f} |")
    return "\n".join(lines) + "\n\n" + text + "\n"


def plot(path: Path, rows: list[dict[str, Any]], searches: dict[str, list[dict[str, Any]]],
         pair: str) -> None:
    """answer.png: the three rows' test accuracy; every trial's probe val accuracy by size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [f"{r['features']}\n({r['feature_size']})" for r in rows]
    accs = [100 * r["probe_test_acc"] for r in rows]
    bars = left.bar(names, accs, color=["tab:gray", "tab:orange", "tab:blue"])
    for bar, r in zip(bars, rows, strict=True):
        left.annotate(f"{100 * r['probe_test_acc']:.2f}%\n{r['test_errors']} errors",
                      (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=9)
    low = min(accs)
    left.set_ylim(max(0.0, low - 2 * (100 - low)), 100.0)
    left.set_ylabel(f"{pair} test accuracy (%)")
    left.set_title("logistic regression on ...")
    for (label, trials), marker, color in zip(searches.items(), ("o", "s"), ("tab:orange", "tab:blue"),
                                              strict=True):
        right.scatter([t["probe_features"] for t in trials], [100 * t["probe_val_acc"] for t in trials],
                      marker=marker, color=color, alpha=0.7, label=label)
        chosen = best(trials)
        right.scatter([chosen["probe_features"]], [100 * chosen["probe_val_acc"]], marker=marker,
                      s=160, facecolors="none", edgecolors="black")
    right.set_xscale("log", base=2)
    right.set_xlabel("feature size (units in the probed layer)")
    right.set_ylabel(f"{pair} validation accuracy (%)")
    right.set_title("every trial of the two searches (best circled)")
    right.legend()
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def answer(ae_dir: Path, bn_dir: Path, out: Path) -> dict[str, Any]:
    """Build the answer table from the two searches; write it to `out`; return it."""
    searches = {"autoencoder codes": _trials(ae_dir, "autoencoder"),
                "bottleneck features": _trials(bn_dir, "classify")}
    ae, bn = best(searches["autoencoder codes"]), best(searches["bottleneck features"])
    shared_ae, shared_bn = _shared(ae), _shared(bn)
    differ = [key for key in SHARED if shared_ae[key] != shared_bn[key]]
    if differ:
        raise UsageError("problems", "the two searches probed different data or probes "
                                     f"({', '.join(differ)} differ): their rows would not compare")
    if not shared_bn["val_fraction"]:
        raise UsageError("problems", "the searches hold out no validation set (val_fraction=0): "
                                     "the best trial would be chosen on the training set")
    start = time.perf_counter()
    raw = raw_pixels(bn)
    raw_seconds = time.perf_counter() - start
    rows = [_row("raw pixels", None, raw), _row("autoencoder code", ae, ae),
            _row("bottleneck features", bn, bn)]
    pair = "-vs-".join(map(str, bn["probe_classes"]))
    text = reading(rows, pair)
    out.mkdir(parents=True, exist_ok=True)
    result = {"pair": pair, "rows": rows, "reading": text, "raw_pixels_seconds": raw_seconds,
              "searches": {k: [t["path"] for t in v] for k, v in searches.items()},
              "dataset": bn["dataset"], "val_fraction": shared_bn["val_fraction"]}
    (out / "answer.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "answer.md").write_text(f"# Problems 5.2 and 5.3: {pair} on {bn['dataset']}\n\n"
                                   + markdown(rows, pair, text))
    plot(out / "answer.png", rows, searches, pair)
    return result


def print_answer(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    pair = result["pair"]
    table = Table(title=f"Problems 5.2 and 5.3: logistic regression, {pair} on {result['dataset']}")
    for column in ("features", "size", "structure found", f"{pair} val", f"{pair} test", "errors",
                   "net fit s", "probe fit s"):
        table.add_column(column, justify="left" if column in ("features", "structure found") else "right")
    for r in result["rows"]:
        table.add_row(r["features"], str(r["feature_size"]), r["structure"],
                      f"{100 * r['probe_val_acc']:.2f}%", f"{100 * r['probe_test_acc']:.2f}%",
                      f"{r['test_errors']}/{r['n_test']}", f"{r['net_fit_seconds']:.1f}",
                      f"{r['probe_fit_seconds']:.2f}")
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    console.print(result["reading"], highlight=False)


def main(argv: list[str]) -> int:
    """`fcnn problems --autoencoder DIR --bottleneck DIR [--out DIR]`."""
    args = build_parser().parse_args(argv)
    out = args.out or Path("outputs") / "problems" / time.strftime("%Y-%m-%d_%H-%M-%S")
    try:
        result = answer(args.autoencoder, args.bottleneck, out)
    except UsageError as err:
        raise err from None
    print_answer(result)
    print(f"wrote answer.md, answer.json, answer.png to {out}")
    return 0
