"""What `fcnn train` shows while it works: the status line before the first epoch (on a terminal
only), the epoch bar's throughput and time left, the batches within a slow epoch, and a resumed
run's first line; a run stopped by a signal resumes to the very model of an uninterrupted one
under the time-based checkpoint policy."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REPO,
    assert_refused,
    interrupt_at_checkpoint,
    popen_fcnn,
    read_metrics,
    train_here,
)

from fcnn_cli.training import progress

SPINNER = re.compile("[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SMALL = ("backend=numpy", "dataset=digits", "struct=[16]", "batch_size=8", "seed=2",
         "annealing=0.95", "plot=false")


def _terminal(width: int = 120):
    from rich.console import Console

    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None), out


def _text(out: io.StringIO) -> str:
    return ANSI.sub("", out.getvalue()).replace("\r", "\n")


# --- in process ------------------------------------------------------------------------------

def test_the_status_line_is_drawn_on_a_terminal_only():
    console, out = _terminal()
    display = progress.Display(True, console)
    display.status("loading MNIST from the cache")
    time.sleep(0.15)
    display.status("compiling the epoch (jax)")
    time.sleep(0.15)
    display.clear()
    text = _text(out)
    assert "loading MNIST from the cache" in text and "compiling the epoch (jax)" in text

    from rich.console import Console

    piped = io.StringIO()
    quiet = progress.Display(True, Console(file=piped, force_terminal=False))
    quiet.status("loading MNIST from the cache")
    quiet.clear()
    off = progress.Display(False, _terminal()[0])
    off.status("loading")
    assert piped.getvalue() == "" and not off.live


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("width", [80, 120])
def test_the_epoch_bar_shows_throughput_and_the_time_left_counting_earlier_epochs(width):
    console, out = _terminal(width)
    clock = Clock()
    # A resumed run: 100 of 650 epochs done before, in 50 s.
    with progress.EpochBar(progress.Display(True, console), "numpy epochs", 650, 100, 1000, 50,
                           before=50.0, clock=clock) as bar:
        bar.epoch_started()
        clock.now += 0.4
        bar.epoch_trained(0.4)
        clock.now += 0.1
        bar.epoch_ended("loss 0.2451  train 95.06%  test 94.17%")
    lines = [line for line in _text(out).splitlines() if "101/650" in line]
    assert lines, _text(out)
    last = lines[-1]
    assert len(last.rstrip()) <= width
    assert "2.5k" in last  # 1000 samples in 0.4 s
    # 549 epochs to go at 0.5 s: 4:34 left; elapsed 50 s before + 0.5 s now.
    if width >= progress.WIDE:
        assert "2.5k samples/s" in last and "0:50 elapsed, 4:34 left" in last
    else:
        assert "2.5k/s" in last and "ETA 4:34" in last


def test_a_slow_epoch_shows_its_batches(monkeypatch):
    """The real numpy backend calls the hook; with the threshold at 0 the batch bar appears."""
    from fcnn_cli import backends
    from fcnn_cli.config.validate import from_config
    from fcnn_cli.data import datasets
    from fcnn_cli.training import loop

    monkeypatch.setattr(progress, "WITHIN_EPOCH_AFTER_S", 0.0)
    monkeypatch.setattr(progress, "BATCH_REFRESH_S", 0.0)
    s = from_config({"backend": {"name": "numpy"}, "dataset": {"name": "digits"},
                     "struct": [16], "batch_size": 1, "max_epochs": 2, "progress": True})
    data = datasets.load("digits")
    backend = backends.create(s, data)
    seen: list[int] = []
    console, out = _terminal()
    display = progress.Display(True, console)
    original = progress.EpochBar.batches

    def spy(self, samples):
        seen.append(samples)
        original(self, samples)

    monkeypatch.setattr(progress.EpochBar, "batches", spy)
    history = loop.run(backend, s, display=display)
    assert history.status == "completed" and backend.batch_hook is None
    # every 8 batches of one sample, within each epoch
    assert seen[:3] == [8, 16, 24] and max(seen) <= data.n_train
    text = _text(out)
    assert "epoch 1 batches" in text and "epoch 2 batches" in text
    assert f"/{data.n_train}" in text  # batches of one sample
    final = text.rstrip().splitlines()[-1]
    assert "2/2" in final and "batches" not in final  # the batch bar leaves with the loop


# --- the real CLI ----------------------------------------------------------------------------

def _in_a_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """Run `fcnn ARGS` with stdout and stderr on a pseudo-terminal; its exit status and screen."""
    master, slave = pty.openpty()
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "fcnn_cli", *args], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_sees_the_status_line_then_the_bar(tmp_path):
    status, screen = _in_a_terminal("train", *SMALL, "max_epochs=20", "progress=true",
                                    f"hydra.run.dir={tmp_path / 'run'}")
    assert status == 0, screen
    text = ANSI.sub("", screen)
    assert SPINNER.search(text) and "loading the digits" in text
    assert "setting up the numpy backend" in text
    assert "20/20" in text and "samples/s" in text and "elapsed" in text and "left" in text


def test_piped_stderr_gets_no_spinner(tmp_path):
    proc = train_here(*SMALL, "max_epochs=3", "progress=true",
                    f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert not SPINNER.search(proc.stderr) and "loading" not in proc.stderr


def test_bad_every_s_is_refused_in_one_line(tmp_path):
    assert_refused(train_here(*SMALL, "checkpoint.every_s=-1",
                            f"hydra.run.dir={tmp_path / 'run'}"),
                   "checkpoint.every_s", ">= 0")


def test_an_interrupted_run_resumes_saying_so_to_the_uninterrupted_model(tmp_path):
    """SIGINT mid-way with the default checkpoint.every_s (5 s: only the first epoch's and the
    stopped one's are written); the resumed run says where it goes on and ends on the same bits
    as the run never stopped."""
    run_dir, reference = tmp_path / "run", tmp_path / "reference"
    config = (*SMALL, "max_epochs=40", "progress=false")
    proc = popen_fcnn("train", *config, f"hydra.run.dir={run_dir}")
    status, _, err = interrupt_at_checkpoint(proc, run_dir, signal.SIGINT)
    assert status == 130, err
    done = read_metrics(run_dir)["epochs_completed"]
    assert 1 <= done < 40

    resumed = train_here(f"resume={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines()[0] == f"resuming {run_dir} at epoch {done + 1} of 40"
    assert read_metrics(run_dir)["resumed_from_epoch"] == done

    whole = train_here(*config, f"hydra.run.dir={reference}")
    assert whole.returncode == 0, whole.stderr
    with np.load(run_dir / "model.npz") as a, np.load(reference / "model.npz") as b:
        assert a.files == b.files
        for name in a.files:
            assert a[name].tobytes() == b[name].tobytes(), name


def test_checkpoints_cost_little_on_a_small_net(tmp_path):
    """300 epochs of a small net: the first and the last checkpoint, and one every 5 s, not
    300."""
    proc = train_here("backend=numpy", "dataset=digits", "struct=[64]", "max_epochs=300",
                    "progress=false", "plot=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(tmp_path / "run")
    assert metrics["checkpoint_seconds"] <= 0.1 * metrics["fit_seconds"], metrics


def test_the_resume_line_for_a_run_whose_epochs_are_all_done():
    from fcnn_cli.training.resume import resuming_line

    assert resuming_line(Path("outputs/x"), 100, 650) == "resuming outputs/x at epoch 101 of 650"
    assert "its 3 epochs are done" in resuming_line(Path("r"), 3, 3)
