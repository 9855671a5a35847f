"""The figures' logic, not their pixels: whole-epoch ticks on curves.png and report.png, and a
report legend that stays readable with many runs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pytest

from fcnn_cli.commands.report import collect, figure
from fcnn_cli.runs.curves import write_curves
from fcnn_cli.runs.figures import curves_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _rows(epochs: int, final_acc: float = 0.9, loss0: float = 1.0) -> list[dict]:
    return [{"epoch": e, "lr": 0.1, "train_loss": loss0 / e, "train_acc": final_acc * e / epochs,
             "test_acc": final_acc * e / epochs, "val_acc": None, "seconds": 0.1 * e}
            for e in range(1, epochs + 1)]


def _visible_ticks(axis) -> list[float]:
    low, high = axis.get_xlim()
    return [t for t in axis.get_xticks() if low - 1e-9 <= t <= high + 1e-9]


@pytest.mark.parametrize("epochs", [1, 2, 3, 5, 12, 40])
def test_curves_png_has_whole_epoch_ticks(epochs):
    fig = curves_figure(_rows(epochs), "title")
    try:
        fig.canvas.draw()
        for axis in fig.axes:
            ticks = _visible_ticks(axis)
            assert ticks, epochs
            assert all(float(t).is_integer() for t in ticks), (epochs, ticks)
    finally:
        plt.close(fig)


def test_matplotlib_alone_would_put_ticks_between_epochs():
    """The check above can fail: three epochs get half-epoch ticks by default."""
    fig, axis = plt.subplots()
    axis.plot([1, 2, 3], [3, 2, 1])
    fig.canvas.draw()
    assert any(not float(t).is_integer() for t in _visible_ticks(axis))
    plt.close(fig)


def _runs(tmp_path: Path, accuracies: list[float], epochs: list[int] | None = None) -> list[collect.Run]:
    runs = []
    for i, acc in enumerate(accuracies):
        path = tmp_path / str(i)
        path.mkdir()
        rows = _rows(epochs[i] if epochs else 3, acc, loss0=1 + i)
        write_curves(path / "curves.csv", rows)
        runs.append(collect.Run(path, name=str(i), row={"backend": "numpy", "struct": "[32]"}))
    return runs


def _legend_labels(fig) -> list[str]:
    legend = fig.axes[0].get_legend()
    return [text.get_text() for text in legend.get_texts()]


def test_report_legend_names_every_run_when_few(tmp_path):
    runs = _runs(tmp_path, [0.5 + 0.04 * i for i in range(figure.MAX_LEGEND)])
    fig, drawn = figure.figure(runs)
    try:
        assert drawn == figure.MAX_LEGEND
        assert _legend_labels(fig) == [f"{i}: numpy [32]" for i in range(figure.MAX_LEGEND)]
    finally:
        plt.close(fig)


def test_report_folds_a_large_sweep_into_the_best_few_and_a_band(tmp_path):
    # 30 runs with shuffled accuracies; one diverged (NaN loss and accuracy) and runs of
    # different lengths, so the band must cope with gaps.
    accuracies = [0.6 + 0.01 * ((7 * i) % 30) for i in range(30)]
    epochs = [3 + i % 4 for i in range(30)]
    runs = _runs(tmp_path, accuracies, epochs)
    diverged = _rows(2, accuracies[0])
    diverged[-1].update(train_loss=math.nan, test_acc=math.nan)
    write_curves(runs[0].curves_file, diverged)
    fig, drawn = figure.figure(runs)
    try:
        fig.canvas.draw()
        assert drawn == 30
        labels = _legend_labels(fig)
        assert len(labels) == figure.LEGEND_BEST + 1
        # Run 0 diverged: it ranks last whatever its accuracy before.
        best = sorted(range(1, 30), key=lambda i: accuracies[i], reverse=True)[:figure.LEGEND_BEST]
        assert [f"{i}: numpy [32]" for i in best] == [x for x in labels if ":" in x]
        assert f"{30 - figure.LEGEND_BEST} other runs (min to max)" in labels
        # The band spans the folded runs' values at each epoch, and is finite.
        # Curve B, test accuracy: the third panel (C and A above it).
        band = [c for c in fig.axes[2].collections if c.get_label().endswith("(min to max)")]
        assert len(band) == 1
        vertices = band[0].get_paths()[0].vertices
        assert all(math.isfinite(v) for v in vertices.ravel())
        folded = [i for i in range(1, 30) if i not in best]
        # Highest: a folded run's last epoch; lowest: a folded run's first (run 0 had 2 epochs).
        assert vertices[:, 1].max() == pytest.approx(100 * max(accuracies[i] for i in folded))
        lowest = min([accuracies[i] / epochs[i] for i in folded] + [accuracies[0] / 2])
        assert vertices[:, 1].min() == pytest.approx(100 * lowest)
        assert "the other 25 as a band" in fig._suptitle.get_text()
        for axis in fig.axes:
            assert all(float(t).is_integer() for t in _visible_ticks(axis))
    finally:
        plt.close(fig)
