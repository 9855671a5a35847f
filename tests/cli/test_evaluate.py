"""`fcnn evaluate`: a saved model re-scored through the real CLI, for runs of every backend, other
tasks and sweeps, on the data the run's own config rebuilds; bad input in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import NUMPY_FAST, assert_refused, read_metrics, run_fcnn, snapshot, train_here

BACKENDS = ("numpy", "jax", "jax-grad", "sklearn")


def _copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    """A private copy of a shared run, so a test may write into it."""
    return Path(shutil.copytree(run, tmp_path / name))


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_rescores_each_backend_on_the_runs_own_splits(backend, digits_run, tmp_path,
                                                               fcnn_here):
    """The val split is the run's own (seeded) validation set and the formulas are training's:
    accuracy and loss equal what the run reported; the training's files stay untouched."""
    run = _copy(digits_run(backend), tmp_path)
    before = snapshot(run)
    metrics = read_metrics(run)
    for split, stem in (("val", "eval-val"), ("test", "eval"), ("train", "eval-train")):
        # numpy's first split through the installed command, the rest in this process
        installed = split == "val" and backend == "numpy"
        result = (run_fcnn if installed else fcnn_here)("evaluate", str(run), "--split", split)
        assert result.returncode == 0, result.stderr
        out = json.loads((run / f"{stem}.json").read_text())
        assert out["split"] == split and out["backend"] == backend
        assert out["accuracy"] == pytest.approx(metrics[f"{split}_acc"], abs=1e-12)
        assert out["loss"] == pytest.approx(metrics[f"{split}_loss"], rel=1e-5)
        assert out["n"] == metrics[f"n_{split}"]
        confusion = np.array(out["confusion_matrix"])
        assert confusion.sum() == out["n"]
        assert np.trace(confusion) == round(out["accuracy"] * out["n"])
        assert [row["support"] for row in out["per_class"]] == confusion.sum(axis=1).tolist()
        # recall of class k is its diagonal cell over its row
        for k, row in enumerate(out["per_class"]):
            assert row["recall"] == pytest.approx(confusion[k, k] / confusion[k].sum())
        assert out["errors"] == out["n"] - np.trace(confusion)
        assert len(out["most_confident_mistakes"]) == min(24, out["errors"])
        probabilities = [m["probability"] for m in out["most_confident_mistakes"]]
        assert probabilities == sorted(probabilities, reverse=True)
        for name in out["figures"]:
            assert _is_png(run / name)
        assert {f"{stem}-confusion.png", f"{stem}-mistakes.png"} == set(out["figures"])
    assert f"accuracy {100 * metrics['train_acc']:.2f}%" in result.stdout
    assert "confusion matrix" in result.stdout
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing overwritten


def test_evaluate_again_never_overwrites_an_earlier_evaluation(digits_run, tmp_path, fcnn_here):
    run = _copy(digits_run("numpy"), tmp_path)
    assert fcnn_here("evaluate", str(run)).returncode == 0
    first = snapshot(run)
    second = fcnn_here("evaluate", str(run))
    assert second.returncode == 0, second.stderr
    assert {k: v for k, v in snapshot(run).items() if k in first} == first
    assert (run / "eval-2.json").is_file() and (run / "eval-2-confusion.png").is_file()
    assert "eval-2.json" in second.stdout


def test_evaluate_classes_and_out(digits_run, tmp_path, fcnn_here):
    run = digits_run("numpy")
    before = snapshot(run)
    out = tmp_path / "elsewhere"
    result = fcnn_here("evaluate", str(run), "--classes", "3,8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert snapshot(run) == before  # --out: nothing written into the run
    data = json.loads((out / "eval-test-classes-3-8.json").read_text())
    assert data["evaluated_classes"] == [3, 8]
    supports = {row["class"]: row["support"] for row in data["per_class"]}
    assert data["n"] == supports[3] + supports[8] and supports[0] == 0


def test_evaluate_other_tasks(tmp_path, fcnn_here):
    """An autoencoder gets its reconstruction error (the run's test loss) and figure; a logistic
    regression (classes 3 and 8) its two-class scores under the dataset's labels."""
    ae = tmp_path / "ae"
    result = train_here(*NUMPY_FAST, "task=autoencoder", "struct=[16,8]", "plot=false",
                      f"hydra.run.dir={ae}")
    assert result.returncode == 0, result.stderr
    result = fcnn_here("evaluate", str(ae))
    assert result.returncode == 0, result.stderr
    out = json.loads((ae / "eval.json").read_text())
    assert out["task"] == "autoencoder"
    assert out["loss"] == pytest.approx(read_metrics(ae)["test_loss"], rel=1e-5)
    assert out["mse"] == pytest.approx(2 * out["loss"] / 64)
    assert sum(row["support"] for row in out["per_class"]) == out["n"] == 360
    assert out["figures"] == ["eval-reconstructions.png"] and _is_png(ae / "eval-reconstructions.png")
    assert "reconstruction loss" in result.stdout

    lr = tmp_path / "logreg"
    result = train_here("backend=jax-grad", "dataset=digits", "task=logreg", "max_epochs=2",
                      "progress=false", "plot=false", f"hydra.run.dir={lr}")
    assert result.returncode == 0, result.stderr
    result = fcnn_here("evaluate", str(lr))
    assert result.returncode == 0, result.stderr
    out = json.loads((lr / "eval.json").read_text())
    assert [row["class"] for row in out["per_class"]] == [3, 8]
    assert out["accuracy"] == read_metrics(lr)["test_acc"]


@pytest.mark.slow
def test_evaluate_a_sweep(tmp_path, fcnn_here):
    """Every run of a sweep, one line each; a run that has not finished is skipped and named,
    and the exit status (1) says that not all were evaluated."""
    sweep = tmp_path / "sweep"
    result = run_fcnn("train", "-m", *NUMPY_FAST, "plot=false", "lr=0.1,0.3",
                      f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    result = fcnn_here("evaluate", str(sweep), "--out", str(tmp_path / "evals"))
    assert result.returncode == 0, result.stderr
    for job in ("0", "1"):
        out = json.loads((tmp_path / "evals" / job / "eval.json").read_text())
        assert out["accuracy"] == read_metrics(sweep / job)["test_acc"]
        assert not (sweep / job / "eval.json").exists()
    assert "2 runs" in result.stdout and "2 evaluated" in result.stdout

    unfinished = sweep / "2"
    shutil.copytree(sweep / "0" / ".hydra", unfinished / ".hydra")
    result = run_fcnn("evaluate", str(sweep))  # the installed command's exit status
    assert result.returncode == 1, result.stderr
    assert (sweep / "0" / "eval.json").is_file() and (sweep / "1" / "eval.json").is_file()
    assert "2: skipped" in result.stdout and "has not finished" in result.stdout
    assert "3 runs" in result.stdout and "1 skipped" in result.stdout


def test_evaluate_refuses_bad_input_in_one_line(digits_run, tmp_path, fcnn_here):
    shared = digits_run("numpy")
    # the installed command (no traceback, status 2), then the same dispatcher in this process
    assert_refused(run_fcnn("evaluate", str(tmp_path / "missing")), "no such directory")
    here = fcnn_here
    assert_refused(here("evaluate", str(tmp_path)), "no run directory")
    assert_refused(here("evaluate", str(shared), "--split", "dev"), "--split", "invalid choice")
    assert_refused(here("evaluate", str(shared), "--classes", "3", "12"), "--classes", "12")
    assert_refused(here("evaluate", str(shared), "--classes", "x"), "--classes")
    assert_refused(here("evaluate", str(shared), "--dataset", "mnist"),
                   "--dataset", "64 features", "mnist has 784")

    unfinished = tmp_path / "unfinished"
    shutil.copytree(shared / ".hydra", unfinished / ".hydra")
    assert_refused(here("evaluate", str(unfinished)), "has not finished")

    failed = _copy(shared, tmp_path, "failed")
    (failed / "metrics.json").write_text(json.dumps({"status": "failed", "failure": "killed",
                                                     "error": "killed by signal 9"}))
    assert_refused(here("evaluate", str(failed)), "the run failed", "killed by signal 9")

    no_model = _copy(shared, tmp_path, "no_model")
    (no_model / "model.npz").unlink()
    assert_refused(here("evaluate", str(no_model)), "no model.npz")

    no_val = tmp_path / "no_val"
    assert train_here(*NUMPY_FAST, "max_epochs=1", "plot=false",
                    f"hydra.run.dir={no_val}").returncode == 0
    before = snapshot(no_val)
    assert_refused(here("evaluate", str(no_val), "--split", "val"), "--split val",
                   "no validation set")
    assert snapshot(no_val) == before  # a refused evaluation writes nothing


def test_evaluate_keeps_the_runs_classes_in_their_order(tmp_path, fcnn_here):
    """dataset.classes=[1,0] relabels 1 as class 0: evaluate rebuilds exactly that data."""
    run = tmp_path / "pair"
    assert train_here(*NUMPY_FAST, "dataset.classes=[1,0]", "plot=false",
                    f"hydra.run.dir={run}").returncode == 0
    result = fcnn_here("evaluate", str(run))
    assert result.returncode == 0, result.stderr
    out = json.loads((run / "eval.json").read_text())
    assert [row["class"] for row in out["per_class"]] == [1, 0] and out["n"] == 72
    assert out["accuracy"] == read_metrics(run)["test_acc"]
