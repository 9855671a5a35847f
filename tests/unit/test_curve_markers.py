"""curves.png marks each epoch only when there are few: hundreds of markers make a band."""

from __future__ import annotations

import matplotlib
import pytest

from fcnn_cli.runs.figures import MARKED_EPOCHS, curves_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _rows(epochs: int) -> list[dict]:
    return [{"epoch": e, "lr": 0.1, "train_loss": 1.0 / e, "train_acc": e / epochs,
             "test_acc": e / epochs, "val_acc": None, "seconds": 0.1 * e}
            for e in range(1, epochs + 1)]


@pytest.mark.parametrize("epochs, marked", [(5, True), (MARKED_EPOCHS, True),
                                            (MARKED_EPOCHS + 1, False), (600, False)])
def test_markers_only_where_they_help(epochs, marked):
    fig = curves_figure(_rows(epochs), "title")
    try:
        lines = [line for axis in fig.axes for line in axis.lines]
        assert len(lines) == 3  # C; A and B
        assert all((line.get_marker() not in ("None", "", None)) == marked for line in lines)
    finally:
        plt.close(fig)
