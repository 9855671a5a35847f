"""The lab's problems through the CLI, on digits: each task end to end, the probe, a probe-driven
search and `fcnn problems`. The bad task settings: tests/unit/test_settings_validation.py (and a
few end to end in tests/cli/test_bad_input.py); the probe's features: tests/unit/test_probe.py."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from helpers import assert_refused, read_metrics, run_fcnn, train_here, train_output

from fcnn_cli.core import model
from fcnn_cli.data import datasets
from fcnn_cli.runs.model_file import load_model
from fcnn_cli.training import probe

FAST = ("dataset=digits", "progress=false")


def _columns(run_dir):
    with open(run_dir / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return list(rows[0]), rows


def test_logreg_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    proc = train_here("task=logreg", "backend=jax-grad", *FAST, "max_epochs=3",
                    f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    m = read_metrics(run_dir)
    assert m["task"] == "logreg" and m["classes"] == [3, 8] and m["struct"] == []
    assert m["n_test"] == 72 and m["batch_size"] == 1  # digits' test 3s and 8s; per-sample SGD
    assert m["test_acc"] > 0.85 and m["objective"] == "val_acc"
    columns, rows = _columns(run_dir)
    assert columns == ["epoch", "lr", "train_loss", "train_acc", "test_acc", "seconds"]
    params, _ = load_model(run_dir / "model.npz")
    assert [w.shape for w, _ in params] == [(64, 1)]
    data = datasets.load("digits", classes=[3, 8])
    predicted = model.logits(np, params, data.x_test)[:, 0] > 0
    assert np.mean(predicted == (data.y_test == 1)) == pytest.approx(m["test_acc"])
    assert "test accuracy" in train_output(proc.stdout)[-1]


def test_autoencoder_end_to_end_with_a_probe(tmp_path):
    run_dir = tmp_path / "run"
    proc = train_here("task=autoencoder", "backend=numpy", *FAST, "struct=[32,8]",
                    "max_epochs=4", "val_fraction=0.2", "probe.layer=code",
                    "objective=probe_val_acc", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    m = read_metrics(run_dir)
    assert m["task"] == "autoencoder"
    assert m["train_acc"] is None and m["test_acc"] is None and m["test_loss"] > 0
    columns, rows = _columns(run_dir)
    assert columns == ["epoch", "lr", "train_loss", "test_loss", "val_loss", "seconds"]
    assert float(rows[-1]["test_loss"]) == pytest.approx(m["test_loss"])
    for name in ("curves.png", "reconstructions.png"):
        assert (run_dir / name).read_bytes().startswith(b"\x89PNG")
    params, _ = load_model(run_dir / "model.npz")
    assert [w.shape[1] for w, _ in params] == [32, 8, 32, 64]  # the mirrored decoder
    # The probe read the code layer (8 units) and scored every test 3 and 8.
    assert m["probe_layer"] == 2 and m["probe_features"] == 8
    test_38 = int(np.isin(datasets.load("digits").y_test, [3, 8]).sum())
    assert m["probe_n_test"] == test_38 == 72
    assert m["probe_n_val"] > 0 and 0.5 < m["probe_test_acc"] <= 1
    assert m["objective"] == m["objective_measured_on"] == "probe_val_acc"
    assert m["objective_value"] == m["probe_val_acc"]
    columns, _ = _columns_of(run_dir / "probe_curves.csv")
    assert columns == ["epoch", "lr", "train_loss", "train_acc", "test_acc", "val_acc", "seconds"]
    last = train_output(proc.stdout)[-1]
    assert "test loss" in last and "3-vs-8 test accuracy" in last


def _columns_of(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return list(rows[0]), rows


def test_bottleneck_probe_matches_an_independent_logistic_regression(tmp_path):
    """The probe on a classifier's narrowest layer, checked against scikit-learn's
    LogisticRegression fitted to the same features read from model.npz."""
    from sklearn.linear_model import LogisticRegression

    run_dir = tmp_path / "run"
    proc = train_here("backend=jax", *FAST, "struct=[48,6,24]", "max_epochs=15",
                    "probe.layer=code", "probe.max_epochs=40", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    m = read_metrics(run_dir)
    assert m["probe_layer"] == 2 and m["probe_features"] == 6 and m["probe_n_val"] == 0
    assert m["probe_val_acc"] is None
    params, activation = load_model(run_dir / "model.npz")
    data = datasets.load("digits")
    pdata = probe.probe_dataset(data, (3, 8), probe.hidden_features(params, activation, 2))
    assert pdata.x_train.shape[1] == 6
    np.testing.assert_allclose(pdata.x_train.mean(axis=0), 0, atol=1e-5)  # standardised
    oracle = LogisticRegression(max_iter=1000).fit(pdata.x_train, pdata.y_train)
    oracle_acc = oracle.score(pdata.x_test, pdata.y_test)
    assert m["probe_test_acc"] >= oracle_acc - 0.03
    assert m["probe_train_acc"] >= oracle.score(pdata.x_train, pdata.y_train) - 0.02


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    """Problems 5.2 and 5.3 in miniature: the real experiments and search presets on digits."""
    root = tmp_path_factory.mktemp("problems")
    common = ("dataset=digits", "backend=numpy", "max_epochs=3", "probe.max_epochs=5")
    ae = train_here("experiment=p5_2", "hparams_search=p5_2_structures", *common,
                  "struct=choice([16],[32,8],[24,12])", f"hydra.sweep.dir={root / 'ae'}")
    assert ae.returncode == 0, ae.stderr
    bn = train_here("experiment=p5_3", "hparams_search=p5_3_structures", *common,
                  "struct=choice([32,8,16],[32,4])", f"hydra.sweep.dir={root / 'bn'}")
    assert bn.returncode == 0, bn.stderr
    return root


def _probe_val_accs(directory):
    runs = sorted(p for p in directory.iterdir() if (p / "metrics.json").is_file())
    return {p.name: read_metrics(p) for p in runs}


def test_search_optimises_the_probes_validation_accuracy(searches, fcnn_here):
    trials = _probe_val_accs(searches / "ae")
    assert len(trials) == 3  # the grid: every structure once
    assert {tuple(m["struct"]) for m in trials.values()} == {(16,), (32, 8), (24, 12)}
    assert all(m["objective"] == "probe_val_acc" and m["probe_n_val"] > 0 for m in trials.values())
    results = yaml.safe_load((searches / "ae" / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(m["probe_val_acc"] for m in trials.values())
    # Each trial probed its own code layer, whatever the depth.
    assert sorted(m["probe_features"] for m in trials.values()) == [8, 12, 16]

    proc = fcnn_here("report", str(searches / "ae"), "--sort", "probe_val_acc", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert "probe val %" in proc.stdout and "autoencoder" in proc.stdout
    with open(searches / "ae" / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    values = [float(r["probe_val_acc"]) for r in rows]
    assert values == sorted(values, reverse=True) and rows[0]["best"] == "1"


def test_problems_answer_table(searches, tmp_path, fcnn_here):
    out = tmp_path / "answer"
    proc = fcnn_here("problems", "--autoencoder", str(searches / "ae"), "--bottleneck",
                    str(searches / "bn"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    answer = json.loads((out / "answer.json").read_text())
    raw, ae, bn = answer["rows"]
    assert [r["features"] for r in answer["rows"]] == ["raw pixels", "autoencoder code",
                                                      "bottleneck features"]
    # The best trial of each search on validation accuracy, with its own measured test accuracy.
    for row, sweep in ((ae, "ae"), (bn, "bn")):
        trials = _probe_val_accs(searches / sweep)
        chosen = read_metrics(searches / sweep / row["run"].rsplit("/", 1)[-1])
        assert chosen["probe_val_acc"] == max(m["probe_val_acc"] for m in trials.values())
        assert row["probe_test_acc"] == chosen["probe_test_acc"]
        assert row["feature_size"] == chosen["probe_features"]
    # Raw pixels: measured now, on the same 3s and 8s, all 64 pixels as features.
    assert raw["feature_size"] == 64 and raw["n_test"] == ae["n_test"] == 72
    assert raw["probe_test_acc"] > 0.9 and raw["probe_fit_seconds"] > 0
    md = (out / "answer.md").read_text()
    assert md.count("\n| ") == 4 and "test errors out of 72: raw pixels" in md
    assert (out / "answer.png").stat().st_size > 10_000
    assert "bottleneck features" in proc.stdout


def test_problems_refuses_a_search_without_probes(tmp_path):
    run_dir = tmp_path / "plain"
    assert train_here("backend=numpy", *FAST, "max_epochs=1", "struct=[8]",
                    f"hydra.run.dir={run_dir}").returncode == 0
    proc = run_fcnn("problems", "--autoencoder", str(tmp_path), "--bottleneck", str(tmp_path))
    assert_refused(proc, "problems", "no completed task=autoencoder run with a probe")
