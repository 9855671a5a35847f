"""Run directories through a real `fcnn train`: every file written through a temporary, a fresh
directory per run, and no spelling of a run or sweep directory on the command line that
overwrites a finished run or sweep. Atomic files and claiming directories in process:
tests/unit/test_run_directories.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import NUMPY_FAST, REPO, assert_refused, read_metrics, run_fcnn, snapshot, train_here

from fcnn_cli.runs import layout

FAST = (*NUMPY_FAST, "max_epochs=1", "plot=false")


# --- the CLI writes through temporaries ------------------------------------------------------

def test_a_run_writes_every_file_through_a_temporary(tmp_path, monkeypatch):
    """train writes its four files with os.replace from a sibling temporary (atomic rename)."""
    code = (
        "import os, sys\n"
        "real = os.replace\n"
        "def replace(src, dst, *a, **k):\n"
        "    print('REPLACE', os.path.basename(str(src))[:1], os.path.basename(str(dst)), flush=True)\n"
        "    return real(src, dst, *a, **k)\n"
        "os.replace = replace\n"
        "from fcnn_cli.cli import main\n"
        f"main(['train', *{list(NUMPY_FAST)!r}, 'max_epochs=1', 'hydra.run.dir={tmp_path / 'r'}'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert out.returncode == 0, out.stderr
    replaced = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("REPLACE")]
    names = [dst for _, dst in replaced]
    assert set(names) >= {layout.MODEL, layout.CURVES, layout.PLOT, layout.METRICS}
    assert all(src == "." for src, _ in replaced)  # from hidden temporaries in the same directory
    assert names[-1] == layout.METRICS  # written last: it marks the run as ended


# --- the CLI ------------------------------------------------------------------------------------

def test_runs_started_together_get_directories_of_their_own(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    procs = [subprocess.Popen([sys.executable, "-m", "fcnn_cli", "train", *FAST, f"seed={i}"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i in range(3)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    run_dirs = layout.find_runs(tmp_path / "outputs")
    assert len(run_dirs) == 3
    assert sorted(read_metrics(d)["seed"] for d in run_dirs) == [0, 1, 2]
    for d in run_dirs:  # <date>/<time to the microsecond>
        assert d.parent.parent == tmp_path / "outputs" and len(d.name) >= len("00-00-00.000000")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run and a finished sweep, and digests of every file in them."""
    root = tmp_path_factory.mktemp("finished")
    run = train_here(*FAST, f"hydra.run.dir={root / 'run'}")
    sweep = run_fcnn("train", "-m", *FAST, "lr=0.1,0.2", f"hydra.sweep.dir={root / 'sweep'}")
    assert run.returncode == 0 and sweep.returncode == 0, (run.stderr, sweep.stderr)
    return root


@pytest.mark.parametrize(
    ("spelling", "fragment"),
    [
        ("hydra.run.dir={run}", "already holds a finished run"),
        ("++hydra.run.dir={run}", "already holds a finished run"),
        ("hydra.run.dir='{run}'", "already holds a finished run"),
        ('hydra.run.dir="{run}/"', "already holds a finished run"),
        ("hydra.run.dir={rel_run}", "already holds a finished run"),
        ("hydra.run.dir={sweep}", "already holds a sweep"),
        ("hydra.run.dir={sweep}/0", "already holds a finished run"),
        ("hydra.run.dir=", "is empty"),
        ("hydra.run.dir=''", "is empty"),
        ("hydra.run.dir=null", "not Optional"),  # Hydra refuses it itself
        ("+hydra.run.dir={run}", "hydra.run.dir"),
        ("hydra.run.dir={run}/metrics.json/x", "cannot create"),
    ],
)
def test_a_finished_run_is_never_overwritten_however_spelled(finished, spelling, fragment):
    before = snapshot(finished)
    rel_run = os.path.relpath(finished / "run", REPO)
    override = spelling.format(run=finished / "run", sweep=finished / "sweep", rel_run=rel_run)
    result = train_here(*FAST, "seed=9", override)
    assert_refused(result, fragment)
    assert snapshot(finished) == before


@pytest.mark.parametrize("spelling", ["hydra.sweep.dir={sweep}", "++hydra.sweep.dir='{sweep}'",
                                      "hydra.sweep.dir={run}", "hydra.sweep.dir="])
def test_a_finished_sweep_is_never_overwritten(finished, spelling):
    before = snapshot(finished)
    override = spelling.format(run=finished / "run", sweep=finished / "sweep")
    result = run_fcnn("train", "-m", *FAST, "lr=0.3,0.4", override)
    assert_refused(result, "hydra.sweep.dir")
    assert snapshot(finished) == before


def test_refused_run_leaves_no_directory(tmp_path):
    """Bad input found after Hydra made the run directory (the data): the directory goes again."""
    result = train_here(*FAST, "dataset=mnist", f"dataset.path={tmp_path / 'none'}",
                      cwd=tmp_path)
    assert_refused(result, "dataset.path")
    assert not (tmp_path / "outputs").exists()


def test_a_crash_is_recorded_as_failed(tmp_path):
    """An unexpected exception (here: a corrupted package file, simulated by patching) keeps its
    traceback, exits 1, and the run directory says failed with the reason."""
    code = (
        "import fcnn_cli.training.loop as loop\n"
        "def boom(*a, **k):\n    raise ZeroDivisionError('injected')\n"
        "loop.run = boom\n"
        "from fcnn_cli.cli import main\n"
        f"main(['train', *{list(FAST)!r}, 'hydra.run.dir={tmp_path / 'r'}'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "ZeroDivisionError: injected" in out.stderr
    metrics = json.loads((tmp_path / "r" / layout.METRICS).read_text())
    assert metrics == {"status": "failed", "failure": "error", "error": "ZeroDivisionError: injected"}
    assert layout.RunDir(tmp_path / "r").status() == layout.FAILED


def test_train_log_holds_the_runs_own_lines(tmp_path, fcnn_here, monkeypatch):
    """train.log (issue 32): the settings, one line per epoch, how the run ended; in process."""
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    result = fcnn_here("train", "dataset=digits", "backend=numpy", "struct=[16]", "max_epochs=3",
                       "progress=false", "plot=false", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    log = (run_dir / "train.log").read_text()
    assert "backend=numpy dataset=digits" in log and "struct=(16,)" in log
    epochs = [line for line in log.splitlines() if "- epoch " in line]
    assert [line.split("- epoch ")[1].split(":")[0] for line in epochs] == ["1", "2", "3"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f"completed after 3 epochs: train_loss {metrics['train_loss']:.6g}" in log
    assert metrics["objective"] == "val_acc" and metrics["objective_measured_on"] == "train_acc"
    # what the run computed on (issue 30): unpinned, numpy's BLAS with its kernel and threads
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert metrics["threads"] is None and metrics["blas_threads"] >= 1
    assert metrics["blas_kernel"] in {i.get("architecture") for i in blas}


def test_curves_png_title_names_the_experiment(tmp_path, fcnn_here, monkeypatch):
    """The run path titles curves.png from the run's metrics and its experiment (issue 32)."""
    from fcnn_cli.runs import figures

    titles = []
    monkeypatch.setattr(figures, "plot_curves", lambda path, rows, title, *a, **k: titles.append(title))
    monkeypatch.chdir(tmp_path)
    result = fcnn_here("train", "experiment=ex5_2", "dataset=digits", "max_epochs=1",
                       "progress=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr
    assert titles and titles[0].startswith("ex5_2: numpy on digits, struct [500, 250]: test ")
