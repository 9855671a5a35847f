"""The figures' logic, not their pixels: whole-epoch ticks on curves.png and report.png, and a
report legend that stays readable with many runs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pytest

from fcnn_cli.commands.report import collect, figure
from fcnn_cli.runs.curves import write_curves
from fcnn_cli.runs.figures import curves_figure, curves_title

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
    (legend,) = fig.legends
    return [text.get_text() for text in legend.get_texts()]


def test_report_legend_names_every_run_when_few(tmp_path):
    runs = _runs(tmp_path, [0.5 + 0.04 * i for i in range(figure.MAX_LEGEND)])
    fig, drawn = figure.figure(runs)
    try:
        assert drawn == figure.MAX_LEGEND
        # The runs share their settings: each is named alone, the settings go to the title.
        assert _legend_labels(fig) == [str(i) for i in range(figure.MAX_LEGEND)]
        assert "all with backend numpy, struct [32]" in fig.get_suptitle()
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
        assert [str(i) for i in best] == labels[:figure.LEGEND_BEST]
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
        assert "the other 25 as a band" in fig.get_suptitle()
        for axis in fig.axes:
            assert all(float(t).is_integer() for t in _visible_ticks(axis))
    finally:
        plt.close(fig)


BACKENDS = ("numpy", "jax", "jax-grad", "sklearn")


def _identical_runs(tmp_path: Path, datasets: tuple[str, ...] = ("mnist",) * 4) -> list[collect.Run]:
    """Four runs of the lab's job on the four backends, with the same curves bit for bit (numpy
    and jax do train alike)."""
    runs = []
    for backend, dataset in zip(BACKENDS, datasets, strict=True):
        path = tmp_path / backend
        path.mkdir()
        write_curves(path / "curves.csv", _rows(3))
        runs.append(collect.Run(path, name=backend, row={
            "backend": backend, "dataset": dataset, "struct": "[500,250]", "optimizer": "sgd",
            "lr": 0.1, "max_epochs": 3}))
    return runs


def _render(fig):
    """The figure drawn, as RGB pixels."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(float)


def _pixels_near(image, axis, colour: str, tolerance: float = 40) -> int:
    """How many pixels of `image` inside `axis` are drawn in `colour` (to `tolerance` in RGB
    distance)."""
    import numpy as np
    from matplotlib.colors import to_rgb

    box = axis.get_window_extent()
    height = image.shape[0]
    inside = image[int(height - box.y1) + 2:int(height - box.y0) - 2, int(box.x0) + 2:int(box.x1) - 2]
    distance = np.linalg.norm(inside - 255 * np.array(to_rgb(colour)), axis=-1)
    return int((distance < tolerance).sum())


def test_report_runs_with_identical_curves_each_show(tmp_path):
    """Four runs drawing the same curves: in each panel every run has its own line style, marker
    and colour, and each colour is still seen in the drawn panel (wider lines and larger hollow
    markers beneath narrower ones)."""
    fig, drawn = figure.figure(_identical_runs(tmp_path))
    try:
        assert drawn == 4
        image = _render(fig)
        for axis in fig.axes:
            lines = axis.get_lines()
            assert len(lines) == 4
            assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == 4
            assert len({line.get_color() for line in lines}) == 4
            widths = [line.get_linewidth() for line in lines]
            assert widths == sorted(widths, reverse=True) and len(set(widths)) == 4
            for line in lines:
                assert _pixels_near(image, axis, line.get_color()) > 30, (axis.get_ylabel(),
                                                                        line.get_label())
    finally:
        plt.close(fig)


def test_the_pixel_check_sees_a_hidden_run():
    """The check above can fail: the same curves drawn alike ("o-", one width) show only the
    last run's colour."""
    fig, axis = plt.subplots()
    for k in range(4):
        axis.plot([1, 2, 3], [1, 0.5, 0.33], "o-", ms=3, color=f"C{k}")
    try:
        image = _render(fig)
        assert _pixels_near(image, axis, "C3") > 30
        assert all(_pixels_near(image, axis, f"C{k}") < 30 for k in range(3))
    finally:
        plt.close(fig)


def test_report_legend_lies_outside_the_panels_and_names_what_differs(tmp_path):
    fig, _ = figure.figure(_identical_runs(tmp_path))
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        for axis in fig.axes:  # the panels with their tick labels
            assert not box.overlaps(axis.get_tightbbox(renderer)), axis.get_ylabel()
        assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
        assert _legend_labels(fig) == [f"{b}: backend {b}" for b in BACKENDS]
        title = fig.get_suptitle()
        assert "on mnist" in title and "they differ in backend" in title
        assert "struct [500,250], sgd, lr 0.1" in title
    finally:
        plt.close(fig)
    for path in tmp_path.iterdir():
        (path / "curves.csv").unlink()
        path.rmdir()
    fig, _ = figure.figure(_identical_runs(tmp_path, ("mnist", "mnist", "digits", "digits")))
    try:
        assert _legend_labels(fig) == ["numpy: dataset mnist, backend numpy",
                                       "jax: dataset mnist, backend jax",
                                       "jax-grad: dataset digits, backend jax-grad",
                                       "sklearn: dataset digits, backend sklearn"]
        assert "on digits and mnist" in fig.get_suptitle()
    finally:
        plt.close(fig)


METRICS = {"backend": "numpy", "dataset": "mnist", "struct": [500, 250], "status": "completed",
           "epochs_completed": 10, "max_epochs": 10, "test_acc": 0.9812, "test_loss": 0.07}


def test_curves_title_names_the_experiment_and_a_run_that_stopped_early():
    assert curves_title(METRICS) == "numpy on mnist, struct [500, 250]: test 98.12%"
    assert curves_title(METRICS, "ex5_2").startswith("ex5_2: numpy on mnist")
    interrupted = {**METRICS, "status": "interrupted", "epochs_completed": 3}
    title = curves_title(interrupted, "ex5_2")
    assert title.startswith("ex5_2: ") and title.endswith("(interrupted after 3 of 10 epochs)")
    diverged = {**METRICS, "status": "diverged", "epochs_completed": 2, "test_acc": 0.1}
    assert curves_title(diverged).endswith("(diverged in epoch 2 of 10)")
    autoencoder = {**METRICS, "test_acc": None, "test_loss": 0.0123}
    assert curves_title(autoencoder).endswith(": test loss 0.0123")
    fig = curves_figure(_rows(3), title)
    try:
        assert fig.get_suptitle() == title
    finally:
        plt.close(fig)


def test_report_legend_wraps_runs_that_differ_in_many_settings(tmp_path):
    """The record's runs differ in a dozen settings: each legend entry wraps between settings
    (never inside one) and the legend stays inside the figure, where unwrapped it ran off both
    sides."""
    runs = []
    for i in range(3):
        path = tmp_path / f"record-seed{i}"
        path.mkdir()
        write_curves(path / "curves.csv", _rows(3))
        name = f"outputs/multirun/record-2026-12-05_22-17-10/seeds/record-seed{i}"
        runs.append(collect.Run(path, name=name, row={
            "backend": "jax", "dataset": "mnist", "struct": f"[{1024 * (i + 1)},{1024 * (i + 1)}]",
            "optimizer": "sgd", "lr": 0.01 * (i + 1), "annealing": 0.9 + 0.01 * i,
            "batch_size": 64 * (i + 1), "max_epochs": 100 + i}))
    fig, _ = figure.figure(runs)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        labels = _legend_labels(fig)
        assert all(label.startswith(f"outputs/multirun/record-2026-12-05_22-17-10/seeds/record-seed{i}: ")
                   for i, label in enumerate(labels))
        lines = [line for label in labels for line in label.splitlines()]
        assert len(lines) > len(labels)  # wrapped
        assert all(len(line) <= figure.LEGEND_WIDTH for line in lines)
        assert all(line.rstrip().endswith((",", *"0123456789]")) for line in lines)  # whole settings
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    finally:
        plt.close(fig)
