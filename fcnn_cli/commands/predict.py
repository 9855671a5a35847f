"""`fcnn predict RUN_DIR INPUT [--out preds.csv]`: a trained classifier's label, and its
probability, for each new input (an IDX file, a .npy array, a PNG image or a folder of them; see
`fcnn_cli.inference.inputs` for the rule on values and shapes). A picture of handwriting, dark on
light paper or of another size, is taken with --invert and --resize (`fcnn_cli.inference.images`).

Writes CSV, `input,label,probability` (input: the PNG's file name, or the row's index), to
standard output or, atomically, to --out.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from fcnn_cli.commands._argparse import Parser
from fcnn_cli.errors import UsageError
from fcnn_cli.runs.layout import TRAINING_FILES, RunDir

COLUMNS = ("input", "label", "probability")


def predict(run_dir: Path, input_path: Path, invert: bool = False,
            resize: bool = False) -> list[tuple[str, object, float]]:
    """(input name, label, probability of that label) for every input, in input order.
    `invert`, `resize`: PNG images dark on light, of any size (`inputs.read_pngs`)."""
    import numpy as np

    from fcnn_cli.inference import apply, inputs
    from fcnn_cli.runs import model_file

    run = RunDir(run_dir)
    if not run_dir.is_dir():
        raise UsageError("RUN_DIR", f"{run_dir}: no such directory")
    run.check_model()
    try:
        saved = run.read_model()
    except model_file.ModelFormatError as err:
        raise UsageError("RUN_DIR", str(err)) from None
    if not apply.has_classes(saved):
        raise UsageError("RUN_DIR", f"{run.model} is a task={saved.task} model, which reconstructs "
                                    "its inputs; fcnn predict needs a classifier (task classify or "
                                    "logreg); `fcnn evaluate` scores an autoencoder")
    if saved.input_divisor is None:
        raise UsageError("RUN_DIR", f"{run.model} was written before model files recorded their "
                                    "input scaling, and the run's config does not name a dataset")
    names, x = inputs.read(input_path, saved, invert, resize)
    proba = apply.probabilities(saved, apply.logits(saved, x))
    best = np.argmax(proba, axis=1)
    labels = saved.classes.tolist()
    return [(name, labels[k], float(proba[i, k])) for i, (name, k) in enumerate(zip(names, best,
                                                                                    strict=True))]


def to_csv(rows: list[tuple[str, object, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((name, label, f"{p:.6f}") for name, label, p in rows)
    return buffer.getvalue()


def check_out(out: Path) -> None:
    """--out may replace a file of the user's, never a directory or a run's own file."""
    if out.is_dir():
        raise UsageError("--out", f"{out} is a directory; name a file, e.g. {out / 'preds.csv'}")
    if out.name in TRAINING_FILES and RunDir(out.parent).is_run():
        raise UsageError("--out", f"{out} is the run's own {out.name}; choose another name")
    if not out.parent.is_dir():
        raise UsageError("--out", f"{out.parent}: no such directory")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fcnn predict",
        description="Label new inputs with a trained classifier: one line per input, "
                    "input,label,probability (CSV). INPUT: an IDX images file (plain or .gz), a "
                    ".npy array (N x 784 or N x 28 x 28 for MNIST; integers are raw pixels, "
                    "divided as in training; floats are already scaled to [0, 1]), a PNG image "
                    "or a folder of them (8-bit grayscale, light on black, the training images' "
                    "size; --invert and --resize take other pictures).",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path,
                        help="a run directory, or a directory FCNNClassifier.save wrote")
    parser.add_argument("input", metavar="INPUT", type=Path,
                        help="an IDX file, a .npy file, a .png image or a folder of them")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="write the CSV here (default: standard output)")
    parser.add_argument("--invert", action="store_true",
                        help="PNG images of dark ink on light paper: each pixel becomes 255 - pixel "
                             "(the training images are light on black)")
    parser.add_argument("--resize", action="store_true",
                        help="PNG images of any size: the ink's bounding box scaled and centred "
                             "as the training set's were (MNIST: to fit 20x20, its centre of mass "
                             "at the centre of 28x28)")
    return parser


def main(argv: list[str]) -> int:
    """`fcnn predict RUN_DIR INPUT [--out FILE] [--invert] [--resize]`."""
    args = build_parser().parse_args(argv)
    try:
        if args.out is not None:
            check_out(args.out)
        rows = predict(args.run_dir, args.input, args.invert, args.resize)
        text = to_csv(rows)
        if args.out is None:
            sys.stdout.write(text)
            return 0
        from fcnn_cli import atomic

        try:
            atomic.write_text(args.out, text)
        except OSError as err:
            raise UsageError("--out", f"cannot write {args.out}: {err.strerror or err}") from None
    except UsageError as err:
        raise UsageError.line(f"predict: {err}") from None
    print(f"wrote {len(rows):,} predictions to {args.out}")
    return 0
