"""FCNNClassifier: scikit-learn's conformance checks, the CLI's very training on every backend
(the same weights as `fcnn train`), any label values, Pipeline / cross_val_score / GridSearchCV,
and model files shared with the CLI (from_run, save, fcnn predict, fcnn evaluate). That
`import fcnn_cli` stays light: tests/cli/test_imports.py."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import read_metrics
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fcnn_cli import FCNNClassifier
from fcnn_cli.data import datasets

# Small and quick (numpy starts fastest), and able to learn the checks' blobs: 30 epochs of
# batches of 8. Every other parameter keeps its default (float32 included).
CONFORMANCE = FCNNClassifier(backend="numpy", struct=(16,), max_epochs=30, batch_size=8,
                             annealing=1.0)


def expected_failed_checks(estimator: FCNNClassifier) -> dict[str, str]:
    """Checks FCNNClassifier is expected to fail: none. (scikit-learn itself skips two where
    their extra libraries are absent: check_estimators_dtypes-like pandas checks
    (check_dataframe_column_names_consistency) without pandas, and check_array_api_input without
    SCIPY_ARRAY_API; FCNNClassifier declares no array-API support and takes any array-like.)"""
    return {}


@parametrize_with_checks([CONFORMANCE], expected_failed_checks=expected_failed_checks)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


# --- the CLI's training, on every backend -----------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "jax", "jax-grad", "sklearn"])
def test_fit_is_the_clis_training(backend, digits_run):
    """Fitted on the digits the CLI loads, with the run's settings, the estimator ends on the
    very weights `fcnn train` saved (same settings check, data split, backend and loop), and
    scores the run's test accuracy."""
    run = digits_run(backend)
    data = datasets.load("digits")
    clf = FCNNClassifier(backend=backend, struct=(32,), max_epochs=3, batch_size=16,
                         val_fraction=0.2).fit(data.x_train, data.y_train)
    with np.load(run / "model.npz", allow_pickle=False) as z:
        for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
            np.testing.assert_array_equal(w, z[f"W{i}"])
            np.testing.assert_array_equal(b, z[f"b{i}"])
    metrics = read_metrics(run)
    assert clf.score(data.x_test, data.y_test) == pytest.approx(metrics["test_acc"], abs=1e-12)
    assert clf.loss_curve_[-1] == pytest.approx(metrics["train_loss"], rel=1e-6)
    assert clf.validation_scores_[-1] == pytest.approx(metrics["val_acc"], abs=1e-12)
    assert clf.n_iter_ == 3 and clf.n_features_in_ == 64
    proba = clf.predict_proba(data.x_test[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(data.x_test[:5])).all()


def test_regularisation_parameters_are_the_clis_keys(tmp_path):
    """dropout, input_dropout, gaussian dropout_noise, adversarial training, max_norm, a cosine
    schedule with warm-up
    and early stopping, given to the estimator flat, train exactly as `fcnn train` with the
    nested keys: the same weights bit for bit (the restored best epoch's) and the same number of
    epochs run."""
    from helpers import run_fcnn

    keys = {"dropout.hidden": 0.3, "dropout.input": 0.1, "dropout.noise": "gaussian", "max_norm": 2.0,
            "adversarial.eps": 0.5, "adversarial.norm": "l2", "adversarial.weight": 0.3,
            "schedule.name": "cosine", "schedule.warmup_epochs": 1,
            "early_stopping.patience": 2, "early_stopping.min_delta": 0.01}
    run = tmp_path / "run"
    result = run_fcnn("train", "backend=numpy", "dataset=digits", "struct=[32]", "max_epochs=30",
                      "batch_size=16", "val_fraction=0.2", "progress=false", "plot=false",
                      *(f"{k}={v}" for k, v in keys.items()), f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    stop = read_metrics(run)["early_stopping"]
    assert stop["stopped_epoch"] < 30  # it did stop early, so the comparison covers the restore
    data = datasets.load("digits")
    clf = FCNNClassifier(backend="numpy", struct=(32,), max_epochs=30, batch_size=16,
                         val_fraction=0.2, dropout=0.3, input_dropout=0.1,
                         dropout_noise="gaussian", max_norm=2.0, adversarial_eps=0.5,
                         adversarial_norm="l2", adversarial_weight=0.3,
                         schedule="cosine", warmup_epochs=1, patience=2,
                         min_delta=0.01).fit(data.x_train, data.y_train)
    assert clf.n_iter_ == stop["stopped_epoch"]
    with np.load(run / "model.npz", allow_pickle=False) as z:
        for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
            np.testing.assert_array_equal(w, z[f"W{i}"])
            np.testing.assert_array_equal(b, z[f"b{i}"])
    assert max(np.linalg.norm(w, axis=0).max() for w in clf.coefs_[:-1]) <= 2.0 + 1e-5


# --- labels, parameters, errors ---------------------------------------------------------------------

def _digits():
    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16, y, test_size=0.25, random_state=0, stratify=y)


def test_any_label_values_and_the_model_file(tmp_path, fcnn_here):
    """String labels come back as they went in, survive save/from_run (stored as a unicode
    array, no pickles) and reach `fcnn predict`."""
    x_train, x_test, y_train, y_test = _digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = FCNNClassifier(backend="numpy", struct=(32,), max_epochs=8, batch_size=16)
    clf.fit(x_train, names[y_train].astype(object))  # python str objects
    assert sorted(clf.classes_.tolist()) == sorted(names.tolist())
    predicted = clf.predict(x_test)
    assert set(predicted) <= set(names) and clf.score(x_test, names[y_test]) > 0.9
    clf.save(tmp_path / "saved")
    with pytest.raises(FileExistsError):
        clf.save(tmp_path / "saved")
    with np.load(tmp_path / "saved" / "model.npz", allow_pickle=False) as z:
        assert z["classes"].dtype.kind == "U" and z["format_version"] == 1
        assert float(z["input_divisor"]) == 1.0
    again = FCNNClassifier.from_run(tmp_path / "saved")
    assert again.get_params() == clf.get_params()
    assert (again.predict(x_test) == predicted).all()
    np.save(tmp_path / "x.npy", x_test[:7])
    result = fcnn_here("predict", str(tmp_path / "saved"), str(tmp_path / "x.npy"))
    assert result.returncode == 0, result.stderr
    assert [line.split(",")[1] for line in result.stdout.splitlines()[1:]] == predicted[:7].tolist()

    mixed = np.array([1, "a"] * 50, dtype=object)
    two = FCNNClassifier(backend="numpy", struct=(4,), max_epochs=1)
    with pytest.raises(ValueError, match="Unknown label type|mix"):
        two.fit(np.zeros((100, 3)), mixed)


def test_bad_parameters_name_the_parameter():
    x, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    for params, fragment in (({"lr": -1.0}, "lr: must be a finite number > 0"),
                             ({"backend": "torch"}, "backend: must be one of"),
                             ({"struct": "wide"}, "struct: must be a list"),
                             ({"activation": "gelu"}, "activation: must be one of"),
                             ({"val_fraction": 1.5}, "val_fraction: must be in [0, 1)"),
                             ({"dtype": "float16"}, "dtype: must be one of"),
                             ({"dropout": 1.0}, "dropout: must be in [0, 1)"),
                             ({"input_dropout": -0.1}, "input_dropout: must be in [0, 1)"),
                             ({"dropout_noise": "uniform"}, "dropout_noise: must be one of"),
                             ({"max_norm": 0.0}, "max_norm: must be a finite number > 0"),
                             ({"schedule": "linear"}, "schedule: must be one of"),
                             ({"warmup_epochs": 9, "max_epochs": 3}, "warmup_epochs: must be below"),
                             ({"patience": 2}, "patience: early stopping watches the validation")):
        with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace(")", r"\)")):
            FCNNClassifier(**{"backend": "numpy", "struct": (4,), **params}).fit(x, y)
    with pytest.raises(ValueError, match="at least two classes"):
        FCNNClassifier(backend="numpy").fit(x, np.zeros(20))


def test_params_clone_and_the_default_backends():
    clf = FCNNClassifier(struct=[8, 4], lr=0.05, optimizer="adam", beta1=0.8)
    params = clf.get_params()
    assert params["struct"] == [8, 4] and params["optimizer"] == "adam" and params["beta1"] == 0.8
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    twin.set_params(lr=0.2, struct=(3,))
    assert clf.lr == 0.05 and twin.struct == (3,)
    assert FCNNClassifier().get_params()["backend"] == "jax"  # the CLI's default


# --- scikit-learn's tools ---------------------------------------------------------------------------

def test_pipeline_cross_val_score_and_grid_search():
    """In a Pipeline with a scaler, under cross_val_score and GridSearchCV (cloning, set_params
    of nested parameters, string labels): the search's best score is the best of the scores
    cross_val_score gives each setting, and the refitted pipeline predicts labels."""
    x, y = load_digits(return_X_y=True)
    x, y = x[:600], np.array([f"digit {v}" for v in y[:600]])
    pipe = Pipeline([("scale", MinMaxScaler()),
                     ("net", FCNNClassifier(backend="numpy", struct=(32,), max_epochs=10,
                                            batch_size=16))])
    grid = {"net__lr": [0.02, 0.3], "net__struct": [(16,), (48,)]}
    search = GridSearchCV(pipe, grid, cv=3).fit(x, y)
    by_hand = {}
    for lr in grid["net__lr"]:
        for struct in grid["net__struct"]:
            setting = clone(pipe).set_params(net__lr=lr, net__struct=struct)
            by_hand[(lr, struct)] = cross_val_score(setting, x, y, cv=3).mean()
    best = max(by_hand, key=by_hand.get)
    assert search.best_score_ == pytest.approx(by_hand[best], abs=1e-12)
    assert (search.best_params_["net__lr"], search.best_params_["net__struct"]) == best
    assert search.best_score_ > 0.85
    assert set(search.predict(x[:20])) <= set(y)


# --- model files shared with the CLI -----------------------------------------------------------------

def test_from_run_and_save_give_the_clis_predictions(digits_run, tmp_path, fcnn_here):
    """from_run loads a CLI run (raw pixels in, divided by the file's 16); its predictions are
    `fcnn predict`'s; save writes the same model.npz, which predict and evaluate --dataset use
    with the same results."""
    run = digits_run("jax")
    data = datasets.load("digits")
    raw = np.rint(data.x_test * 16).astype(np.uint8)
    clf = FCNNClassifier.from_run(run)
    assert clf.backend == "jax" and clf.struct == (32,) and clf.val_fraction == 0.2
    assert clf.loss_curve_[-1] == pytest.approx(read_metrics(run)["train_loss"], rel=1e-6)
    assert clf.score(raw, data.y_test) == pytest.approx(read_metrics(run)["test_acc"], abs=1e-12)
    np.save(tmp_path / "raw.npy", raw)
    result = fcnn_here("predict", str(run), str(tmp_path / "raw.npy"))
    labels = [int(line.split(",")[1]) for line in result.stdout.splitlines()[1:]]
    assert labels == clf.predict(raw).tolist()

    clf.save(tmp_path / "saved")
    with np.load(run / "model.npz", allow_pickle=False) as a, \
            np.load(tmp_path / "saved" / "model.npz", allow_pickle=False) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    again = fcnn_here("predict", str(tmp_path / "saved"), str(tmp_path / "raw.npy"))
    assert again.stdout == result.stdout
    evaluated = fcnn_here("evaluate", str(tmp_path / "saved"), "--dataset", "digits")
    assert evaluated.returncode == 0, evaluated.stderr
    out = json.loads((tmp_path / "saved" / "eval-test-digits.json").read_text())
    assert out["accuracy"] == pytest.approx(read_metrics(run)["test_acc"], abs=1e-12)
    assert json.loads((tmp_path / "saved" / "estimator.json").read_text())["params"]["backend"] == "jax"


def test_from_run_refuses_what_it_cannot_use(tmp_path):
    with pytest.raises(FileNotFoundError):
        FCNNClassifier.from_run(tmp_path / "missing")
    with pytest.raises(ValueError, match="no model.npz"):
        FCNNClassifier.from_run(tmp_path)
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(ValueError, match="not a readable model file"):
        FCNNClassifier.from_run(tmp_path)


def test_an_estimator_fitted_on_raw_values_evaluates_on_the_dataset(tmp_path, fcnn_here):
    """A model saved by the estimator takes its inputs as given (input_divisor 1): fitted on
    digits' raw 0..16 values, `fcnn evaluate --dataset digits` feeds it raw values too."""
    data = datasets.load("digits")
    raw_train = data.x_train * 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # raw values 0..16 train without overflow at this rate
        clf = FCNNClassifier(backend="numpy", struct=(32,), max_epochs=5, batch_size=16,
                             lr=0.01).fit(raw_train, data.y_train)
    clf.save(tmp_path / "raw")
    result = fcnn_here("evaluate", str(tmp_path / "raw"), "--dataset", "digits")
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "raw" / "eval-test-digits.json").read_text())
    assert out["accuracy"] == pytest.approx(clf.score(data.x_test * 16, data.y_test), abs=1e-12)
    assert out["accuracy"] > 0.8
