"""`fcnn evaluate RUN_DIR`: re-score a saved model, whatever backend trained it, without training.

The run's own config (`.hydra/config.yaml`) rebuilds its data: the same dataset, classes,
validation split and seed, so `--split val` is the very validation set the run was tuned on.
A classifier gets accuracy and loss (the training's own formulas), scikit-learn's per-class
precision, recall and F1, a confusion matrix (a table and a figure) and a grid of its most
confidently wrong images; an autoencoder its reconstruction error (per class too) and a figure of
its worst reconstructions. Everything goes to `eval.json` and `eval-*.png` beside the run's files
(or to `--out`), never over them, nor over an earlier evaluation's (`runs.RunDir.free_eval_stem`).

Given a sweep (or any directory holding runs), it evaluates every run below it.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnn_cli.commands._argparse import Parser
from fcnn_cli.errors import UsageError
from fcnn_cli.runs.layout import RunDir, find_runs

if TYPE_CHECKING:
    import numpy as np

    from fcnn_cli.inference.scoring import Evaluation
    from fcnn_cli.runs.model_file import SavedModel

SPLITS = ("test", "train", "val")
# Exit status when some runs of a sweep were evaluated and others could not be (bad input: 2).
PARTIAL_EXIT = 1


# --- the data a run was trained on --------------------------------------------------------------

@dataclass
class Request:
    """What to evaluate on, from the command line."""

    split: str = "test"
    dataset: str | None = None
    classes: tuple[int, ...] | None = None


def _run_settings(run: RunDir) -> Any:
    """The run's checked settings from its saved config, device set to the CPU (a GPU run is
    re-scored anywhere); None when it has no config."""
    from fcnn_cli.config import validate

    config = run.read_config()
    if config is None:
        return None
    if not isinstance(config, dict):
        raise UsageError("RUN_DIR", f"{run.config} is damaged: not a config mapping")
    config = {**config, "device": {"name": "cpu"}, "progress": False}
    try:
        return validate.from_config(config)
    except UsageError as err:
        raise UsageError("RUN_DIR", f"the run's config {run.config} is not valid here: {err}") from None


def load_split(run: RunDir, saved: SavedModel, request: Request) -> tuple[np.ndarray, np.ndarray, dict]:
    """The feature rows and class indices to evaluate `saved` on, as the run saw them, and a
    description for eval.json."""
    import numpy as np

    from fcnn_cli.data import dataset, datasets
    s = _run_settings(run)
    if s is None and request.dataset is None:
        raise UsageError("--dataset", f"{run.path} has no run config ({run.config}): name the data "
                                      f"to evaluate on, one of {', '.join(dataset.DATASETS)}")
    name = request.dataset or s.dataset
    labels = saved.classes.tolist()
    if s is not None:  # the classes the run trained on
        model_classes = s.classes
    elif saved.task == "autoencoder":
        model_classes = None
    elif all(isinstance(c, int) and not isinstance(c, bool) for c in labels):
        whole = list(range(dataset.SHAPES[name].n_classes))
        model_classes = None if labels == whole else tuple(labels)
    else:
        raise UsageError("--dataset", f"the model's classes are not {name}'s labels: "
                                      f"{', '.join(map(str, labels))}")
    if s is not None and name == s.dataset:
        path, dtype, val_fraction, seed = s.dataset_path, s.dtype, s.val_fraction, s.seed
    else:
        path, dtype = None, saved.dtype.name
        val_fraction, seed = (0.0, 0) if s is None else (s.val_fraction, s.seed)
    if request.split == "val" and val_fraction == 0:
        raise UsageError("--split val", "the run has no validation set (it was trained with "
                                    "val_fraction 0); choose test or train")
    shape = dataset.SHAPES[name]
    if shape.n_features != saved.n_features:
        raise UsageError("--dataset", f"the model takes {saved.n_features} features per input; "
                                      f"{name} has {shape.n_features}")
    data = datasets.load(name, path, dtype, val_fraction, seed, model_classes)
    if saved.task != "autoencoder" and list(data.classes) != labels:
        raise UsageError("RUN_DIR", f"the model's classes ({', '.join(map(str, labels))}) are not "
                                    f"the data's ({', '.join(map(str, data.classes))})")
    x, y = data.split(request.split)
    if saved.input_divisor is not None and saved.input_divisor != shape.divisor:
        # A model that takes other raw values than this dataset's scaling gives (a model saved
        # by FCNNClassifier takes its inputs as given): the raw values, over the model's divisor.
        x = x * np.asarray(shape.divisor / saved.input_divisor, dtype=x.dtype)
    described = {"dataset": name, "split": request.split, "classes": labels}
    if request.classes is not None:
        missing = [c for c in request.classes if c not in labels]
        if missing:
            raise UsageError("--classes", f"{', '.join(map(str, missing))} not among the model's "
                                          f"classes ({', '.join(map(str, labels))})")
        keep = np.isin(y, [labels.index(c) for c in request.classes])
        x, y = x[keep], y[keep]
        described["evaluated_classes"] = list(request.classes)
    if x.shape[0] == 0:
        raise UsageError("--classes", f"no {request.split} rows of those classes")
    return x, y, described


# --- one run ------------------------------------------------------------------------------------

def _stem(request: Request, run_dataset: str | None) -> str:
    """eval for the run's own test split, else eval-<split>[-<dataset>][-classes-3-8]."""
    parts = []
    if request.split != "test" or (request.dataset and request.dataset != run_dataset) or request.classes:
        parts.append(request.split)
    if request.dataset and request.dataset != run_dataset:
        parts.append(request.dataset)
    if request.classes:
        parts.append("classes-" + "-".join(map(str, request.classes)))
    return "-".join(["eval", *parts])


def evaluate_run(run: RunDir, request: Request, out: Path | None) -> tuple[Evaluation, Path, list[str]]:
    """Evaluate one run and write eval.json and its figures to `out` (default: the run's
    directory); returns the evaluation, where it went and the file names written."""
    from fcnn_cli.inference import scoring
    from fcnn_cli.runs import model_file, record
    from fcnn_cli.runs.record import write_json

    run.check_model()
    try:
        saved = run.read_model()
    except model_file.ModelFormatError as err:
        raise UsageError("RUN_DIR", str(err)) from None
    start = time.perf_counter()
    x, y, described = load_split(run, saved, request)
    scorer = scoring.score_classifier if saved.task != "autoencoder" else scoring.score_autoencoder
    evaluation = scorer(saved, x, y)
    seconds = time.perf_counter() - start
    metrics = run.read_metrics() or {}
    target = RunDir(out) if out is not None else run
    try:
        target.path.mkdir(parents=True, exist_ok=True)
        stem = target.free_eval_stem(_stem(request, metrics.get("dataset")))
        written = _write_figures(target, stem, saved, x, evaluation, described)
        result = {
            "run": str(run.path),
            "model": str(run.model),
            "task": saved.task,
            "backend": metrics.get("backend"),
            "status": metrics.get("status"),
            **described,
            **evaluation.result,
            # What the run itself reported for this split, to compare with.
            "reported": {key: metrics.get(f"{request.split}_{key}") for key in ("acc", "loss")},
            "figures": written,
            "seconds": seconds,
            "versions": record.versions(),
        }
        write_json(target.eval_json(stem), result)  # last: the figures it names exist
    except OSError as err:
        raise UsageError("--out" if out is not None else "RUN_DIR",
                         f"cannot write to {target.path}: {err.strerror or err}") from None
    evaluation.result = result
    return evaluation, target.path, [*written, target.eval_json(stem).name]


def _write_figures(target: RunDir, stem: str, saved: SavedModel, x: np.ndarray,
                   evaluation: Evaluation, described: dict) -> list[str]:

    from fcnn_cli.runs import figures
    written = []
    where = f"{described['dataset']} {described['split']}"
    if evaluation.confusion is not None:
        path = target.eval_figure(stem, "confusion")
        accuracy = evaluation.result["accuracy"]
        figures.plot_confusion(path, evaluation.confusion, saved.classes.tolist(),
                                   f"{where}: accuracy {100 * accuracy:.2f}% "
                                   f"({evaluation.result['n']:,} inputs)")
        written.append(path.name)
        path = target.eval_figure(stem, "mistakes")
        shown = evaluation.shown
        if figures.plot_image_grid(path, x[shown], saved.image_shape, evaluation.captions,
                                       f"{where}: the {len(shown)} most confidently wrong of "
                                       f"{evaluation.result['errors']:,} errors"):
            written.append(path.name)
    if evaluation.reconstructions is not None:
        path = target.eval_figure(stem, "reconstructions")
        if figures.plot_reconstructions(path, x[evaluation.shown], evaluation.reconstructions,
                                            top_label="worst"):
            written.append(path.name)
    return written


# --- printing -----------------------------------------------------------------------------------

def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    return console


def print_evaluation(result: dict[str, Any], where: Path, written: list[str]) -> None:
    """The evaluation as tables: the scores, per class, and the confusion matrix."""
    from rich import box
    from rich.table import Table

    console = _console()
    subset = result.get("evaluated_classes")
    head = (f"{result['run']}: {result['task']} model ({result['backend'] or 'saved'}) on "
            f"{result['dataset']} {result['split']}, {result['n']:,} inputs"
            + (f" of classes {', '.join(map(str, subset))}" if subset else ""))
    console.print(head, markup=False, highlight=False)
    reported = result["reported"]
    if "accuracy" in result:
        line = f"accuracy {100 * result['accuracy']:.2f}%  loss {result['loss']:.4f}  " \
               f"errors {result['errors']:,}"
        if reported.get("acc") is not None and not subset:
            line += f"  (the run reported {100 * reported['acc']:.2f}%)"
        console.print(line, markup=False, highlight=False)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="right")
        for row in result["per_class"]:
            table.add_row(str(row["class"]), f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                          f"{row['f1']:.4f}", f"{row['support']:,}")
        macro = result["macro_avg"]
        table.add_row("macro avg", f"{macro['precision']:.4f}", f"{macro['recall']:.4f}",
                      f"{macro['f1']:.4f}", f"{result['n']:,}", style="bold")
        console.print(table)
        console.print("confusion matrix (rows: true class, columns: predicted)")
        console.print(confusion_table(result))
    else:
        line = f"reconstruction loss {result['loss']:.4f} (half the squared error, summed over " \
               f"the features)  mse {result['mse']:.5f}"
        if reported.get("loss") is not None and not subset:
            line += f"  (the run reported {reported['loss']:.4f})"
        console.print(line, markup=False, highlight=False)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("class", "loss", "support"):
            table.add_column(column, justify="right")
        for row in result["per_class"]:
            table.add_row(str(row["class"]), f"{row['loss']:.4f}", f"{row['support']:,}")
        console.print(table)
    console.print(f"wrote {', '.join(written)} to {where}", markup=False, highlight=False)


def confusion_table(result: dict[str, Any]) -> Any:
    """The confusion matrix as a rich table: rows the true class, columns the predicted one."""
    from rich import box
    from rich.table import Table

    labels = [str(row["class"]) for row in result["per_class"]]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("true \\ pred", justify="right", style="bold")
    for label in labels:
        table.add_column(label, justify="right")
    for i, row in enumerate(result["confusion_matrix"]):
        cells = [f"[bold green]{v:,}[/]" if i == j else (f"[red]{v:,}[/]" if v else "[dim]0[/]")
                 for j, v in enumerate(row)]
        table.add_row(labels[i], *cells)
    return table


def _one_line(result: dict[str, Any]) -> str:
    if "accuracy" in result:
        return f"{result['split']} accuracy {100 * result['accuracy']:.2f}%, loss {result['loss']:.4f}"
    return f"{result['split']} reconstruction loss {result['loss']:.4f}"


# --- the command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from fcnn_cli.data.dataset import DATASETS

    parser = Parser(
        prog="fcnn evaluate",
        description="Re-score a trained model (any backend) without training: accuracy, loss, "
                    "per-class precision/recall/F1, confusion matrix, the most confidently wrong "
                    "images (an autoencoder: reconstruction error). Writes eval.json and figures "
                    "into the run directory (or --out), never over its files. Given a sweep, "
                    "evaluates every run in it.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path,
                        help="a run directory, a sweep, or a directory FCNNClassifier.save wrote")
    parser.add_argument("--split", choices=SPLITS, default="test",
                        help="the run's test set (default), its training set, or its validation "
                             "set (the same seeded split as in training)")
    parser.add_argument("--dataset", choices=DATASETS,
                        help="evaluate on this dataset instead of the run's (needed for a "
                             "directory without a run config)")
    parser.add_argument("--classes", nargs="+", metavar="CLASS",
                        help="only the inputs of these classes (the model's labels), e.g. 3 8")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where eval.json and the figures go (default: the run directory; "
                             "a sweep's runs get one subdirectory each)")
    return parser


def parse_classes(values: list[str] | None) -> tuple[int, ...] | None:
    """--classes 3 8, --classes 3,8 or --classes [3,8] as (3, 8)."""
    if values is None:
        return None
    tokens = [t for v in values for t in v.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    try:
        classes = tuple(int(t) for t in tokens)
    except ValueError:
        raise UsageError("--classes", f"class labels are integers; got {' '.join(values)!r}") from None
    if not classes or len(set(classes)) != len(classes):
        raise UsageError("--classes", f"name distinct classes, e.g. 3 8; got {' '.join(values)!r}")
    return classes


def _targets(directory: Path) -> list[Path]:
    """The run (or saved model) `directory` is, or every run below it."""
    run = RunDir(directory)
    if run.is_run() or run.model.is_file():
        return [directory]
    return find_runs(directory)


def main(argv: list[str]) -> int:
    """`fcnn evaluate RUN_DIR [--split S] [--dataset NAME] [--classes ...] [--out DIR]`."""
    args = build_parser().parse_args(argv)
    directory: Path = args.run_dir
    try:
        request = Request(args.split, args.dataset, parse_classes(args.classes))
        if not directory.is_dir():
            raise UsageError("RUN_DIR", f"{directory}: no such directory")
        targets = _targets(directory)
        if not targets:
            raise UsageError("RUN_DIR", f"{directory}: no run directory (.hydra/config.yaml or "
                                        "metrics.json) or model.npz in or below it")
        if len(targets) == 1 and targets[0] == directory:
            evaluation, where, written = evaluate_run(RunDir(directory), request, args.out)
            print_evaluation(evaluation.result, where, written)
            return 0
    except UsageError as err:
        raise UsageError.line(f"evaluate: {err}") from None
    return evaluate_many(directory, targets, request, args.out)


def evaluate_many(root: Path, targets: list[Path], request: Request, out: Path | None) -> int:
    """Every run below `root`: one line each, then a summary; 0 when all were evaluated,
    PARTIAL_EXIT when some could not be, 2 when none could."""
    console = _console()
    done, skipped = 0, []
    for path in targets:
        name = os.path.relpath(path, root)
        try:
            evaluation, where, written = evaluate_run(
                RunDir(path), request, None if out is None else out / name)
        except UsageError as err:
            skipped.append(f"{name}: {err.message}")
            console.print(f"{name}: skipped: {err.message}", markup=False, highlight=False)
            continue
        done += 1
        console.print(f"{name}: {_one_line(evaluation.result)}; wrote {', '.join(written)} "
                      f"to {where}", markup=False, highlight=False)
    console.print(f"evaluate: {len(targets)} runs in {root}, {done} evaluated, {len(skipped)} "
                  "skipped", markup=False, highlight=False)
    if done == 0:
        raise UsageError.line(f"evaluate: no run in {root} could be evaluated")
    return 0 if not skipped else PARTIAL_EXIT
