"""Progress where stderr is no terminal (piped, a log file, Jupyter, `!fcnn train` in a notebook
cell): one plain line per epoch, no bar characters, spinner frames or ANSI codes."""

from __future__ import annotations

import io
import re

from helpers import run_fcnn

from fcnn_cli.training import progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DRAWN = re.compile("[━╸╺⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏\r]")  # rich's bar and spinner, a redraw


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_each_epoch_is_one_line():
    from rich.console import Console

    out = io.StringIO()
    display = progress.Display(True, Console(file=out, force_terminal=False, width=200))
    clock = Clock()
    # a resumed run: 2 of 6 epochs done before, in 4 s
    with progress.EpochBar(display, "numpy epochs", 6, 2, 1000, 50, before=4.0, clock=clock) as bar:
        assert bar.batch_hook is None
        for stats in ("loss 0.5  train 90.00%", "loss 0.4  train 92.00%"):
            bar.epoch_started()
            clock.now += 0.5
            bar.epoch_trained(0.5)
            clock.now += 0.5
            bar.epoch_ended(stats)
    assert out.getvalue().splitlines() == [
        "numpy epoch 3/6  loss 0.5  train 90.00%  2.0k samples/s  0:05 elapsed, 0:03 left",
        "numpy epoch 4/6  loss 0.4  train 92.00%  2.0k samples/s  0:06 elapsed, 0:02 left",
    ]


def test_piped_fcnn_train_prints_plain_lines(tmp_path):
    result = run_fcnn("train", "dataset=digits", "backend=numpy", "struct=[16]", "max_epochs=3",
                      "plot=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"numpy epoch {n}/3" for n in (1, 2, 3)]
    assert all("loss " in line and "train " in line and "test " in line and " left" in line
               for line in lines)
    assert not ANSI.search(result.stderr + result.stdout)
    assert not DRAWN.search(result.stderr)


def test_progress_false_prints_no_epoch_lines(tmp_path):
    result = run_fcnn("train", "dataset=digits", "backend=numpy", "struct=[16]", "max_epochs=2",
                      "plot=false", "progress=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0 and result.stderr == ""
