"""`fcnn predict`: new inputs of the three kinds (IDX, .npy, a folder of PNGs) labelled by a saved
model, checked against the net computed here from model.npz by hand, and against the run's own
test accuracy; inputs the model cannot take are refused in one line, naming the file."""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import NUMPY_FAST, assert_refused, read_metrics, run_fcnn
from PIL import Image

from fcnn_cli import paths
from fcnn_cli.data import datasets


def oracle(run: Path, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, their probabilities): the net of model.npz written out here in float64, relu
    hidden layers and a softmax output."""
    with np.load(run / "model.npz", allow_pickle=False) as z:
        n = sum(1 for k in z.files if k.startswith("W"))
        layers = [(z[f"W{i}"].astype(np.float64), z[f"b{i}"].astype(np.float64)) for i in range(n)]
        classes = z["classes"]
    a = features.reshape(len(features), -1).astype(np.float64)
    for i, (w, b) in enumerate(layers):
        a = a @ w + b
        if i < n - 1:
            a = np.maximum(a, 0)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return classes[p.argmax(axis=1)], p.max(axis=1)


def read_csv(text: str) -> tuple[list[str], list[int], np.ndarray]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and list(rows[0]) == ["input", "label", "probability"]
    return ([r["input"] for r in rows], [int(r["label"]) for r in rows],
            np.array([float(r["probability"]) for r in rows]))


def write_idx(path: Path, images: np.ndarray) -> None:
    """An IDX3 ubyte file (MNIST's format), gzipped when the name ends in .gz."""
    data = struct.pack(">I3I", 0x0803, *images.shape) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_pngs(directory: Path, images: np.ndarray, mode: str = "L") -> None:
    directory.mkdir()
    for i, image in enumerate(images):
        picture = Image.fromarray(image.astype(np.uint8), mode="L")
        (picture if mode == "L" else picture.convert(mode)).save(directory / f"img{i}.png")


@pytest.fixture(scope="module")
def digits_raw():
    """The digits test images as raw pixel values 0..16 (N x 8 x 8 uint8), and their labels."""
    data = datasets.load("digits")
    raw = np.rint(data.x_test * 16).astype(np.uint8).reshape(-1, 8, 8)
    assert np.array_equal(raw.reshape(len(raw), -1) / np.float32(16), data.x_test)
    return raw, data.y_test


def test_predict_the_three_input_kinds(digits_run, digits_raw, tmp_path, fcnn_here):
    """IDX (plain, gzipped), .npy (rows, images, integers or scaled floats) and PNGs give the
    hand-computed net's labels; on the test images they score the run's own test accuracy."""
    run = digits_run("numpy")
    raw, labels = digits_raw
    expected, confidence = oracle(run, raw / 16.0)
    assert np.mean(expected == labels) == pytest.approx(read_metrics(run)["test_acc"], abs=1e-12)

    write_idx(tmp_path / "images-idx3-ubyte", raw)
    write_idx(tmp_path / "images-idx3-ubyte.gz", raw)
    np.save(tmp_path / "rows.npy", raw.reshape(len(raw), -1))
    np.save(tmp_path / "images.npy", raw)
    np.save(tmp_path / "scaled.npy", raw.reshape(len(raw), -1) / 16.0)
    installed = run_fcnn("predict", str(run), str(tmp_path / "images-idx3-ubyte"))
    assert installed.returncode == 0, installed.stderr
    for result in (installed, *(fcnn_here("predict", str(run), str(tmp_path / name))
                                for name in ("images-idx3-ubyte.gz", "rows.npy", "images.npy",
                                             "scaled.npy"))):
        assert result.returncode == 0, result.stderr
        names, got, probability = read_csv(result.stdout)
        assert names == [str(i) for i in range(len(raw))]
        assert got == expected.tolist()
        np.testing.assert_allclose(probability, confidence, atol=2e-6)

    # PNGs hold 8-bit pixels: 0..255, divided by 255 (their own range) whatever the model's divisor.
    pixels = np.rint(raw[:12] * (255 / 16)).astype(np.uint8)
    write_pngs(tmp_path / "pngs", pixels)
    write_pngs(tmp_path / "rgb", pixels, mode="RGB")  # grayscale stored as RGB is grayscale
    expected, confidence = oracle(run, pixels / 255.0)
    out = tmp_path / "preds.csv"
    for folder in ("pngs", "rgb"):
        result = fcnn_here("predict", str(run), str(tmp_path / folder), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "wrote 12 predictions" in result.stdout
        names, got, probability = read_csv(out.read_text())
        assert names == [f"img{i}.png" for i in range(12)]  # natural order: img2 before img10
        assert got == expected.tolist()
        np.testing.assert_allclose(probability, confidence, atol=2e-6)

    # One PNG file, as `fcnn predict RUN my_digit.png`: the same label as in its folder.
    result = fcnn_here("predict", str(run), str(tmp_path / "pngs" / "img7.png"))
    assert result.returncode == 0, result.stderr
    names, got, probability = read_csv(result.stdout)
    assert names == ["img7.png"] and got == expected[7:8].tolist()
    np.testing.assert_allclose(probability, confidence[7:8], atol=2e-6)


def test_predict_refuses_what_the_model_cannot_take(digits_run, digits_raw, tmp_path, fcnn_here):
    run = digits_run("numpy")
    raw, _ = digits_raw
    here = fcnn_here

    big = tmp_path / "big"
    write_pngs(big, np.zeros((2, 28, 28)))
    assert_refused(run_fcnn("predict", str(run), str(big)), "img0.png", "28x28 pixels",
                   "8x8 grayscale", "not resized")
    assert_refused(run_fcnn("predict", str(run), str(big / "img1.png")), "img1.png", "28x28 pixels")
    colour = tmp_path / "colour"
    colour.mkdir()
    Image.fromarray(np.full((8, 8, 3), (200, 10, 10), np.uint8), mode="RGB").save(colour / "a.png")
    assert_refused(here("predict", str(run), str(colour)), "a.png", "colour")
    (tmp_path / "empty").mkdir()
    assert_refused(here("predict", str(run), str(tmp_path / "empty")), "no .png files")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"not a png")
    assert_refused(here("predict", str(run), str(tmp_path / "junk")), "x.png", "not a readable PNG")

    np.save(tmp_path / "unscaled.npy", raw.astype(np.float32))  # raw values as floats
    assert_refused(here("predict", str(run), str(tmp_path / "unscaled.npy")),
                   "float values from 0 to 16", "divide by 16")
    np.save(tmp_path / "wide.npy", raw.astype(np.int16) * 20)
    assert_refused(here("predict", str(run), str(tmp_path / "wide.npy")), "integer values",
                   "0..16")
    np.save(tmp_path / "shape.npy", np.zeros((3, 63), np.uint8))
    assert_refused(here("predict", str(run), str(tmp_path / "shape.npy")), "3 x 63",
                   "N x 64 or N x 8 x 8")
    np.save(tmp_path / "nan.npy", np.full((2, 64), np.nan))
    assert_refused(here("predict", str(run), str(tmp_path / "nan.npy")), "NaN")

    write_idx(tmp_path / "cut-idx3-ubyte", raw)
    data = (tmp_path / "cut-idx3-ubyte").read_bytes()
    (tmp_path / "cut-idx3-ubyte").write_bytes(data[:-10])
    assert_refused(here("predict", str(run), str(tmp_path / "cut-idx3-ubyte")), "corrupt IDX",
                   "its header")
    (tmp_path / "labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, 3) + bytes([1, 2, 3]))
    assert_refused(here("predict", str(run), str(tmp_path / "labels-idx1-ubyte")), "labels file")
    (tmp_path / "notes.txt").write_text("hello")
    assert_refused(here("predict", str(run), str(tmp_path / "notes.txt")), "not an IDX file")
    assert_refused(here("predict", str(run), str(tmp_path / "missing.npy")), "no such file")

    metrics = (run / "metrics.json").read_bytes()
    np.save(tmp_path / "rows.npy", raw.reshape(len(raw), -1))
    assert_refused(here("predict", str(run), str(tmp_path / "rows.npy"), "--out",
                        str(run / "metrics.json")), "--out", "the run's own metrics.json")
    assert (run / "metrics.json").read_bytes() == metrics
    assert_refused(here("predict", str(tmp_path), str(tmp_path / "rows.npy")), "no model.npz")


def test_predict_refuses_an_autoencoder(tmp_path, fcnn_here):
    ae = tmp_path / "ae"
    assert run_fcnn("train", *NUMPY_FAST, "task=autoencoder", "struct=[8]", "max_epochs=1",
                    "plot=false", f"hydra.run.dir={ae}").returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 64), np.uint8))
    assert_refused(fcnn_here("predict", str(ae), str(tmp_path / "x.npy")), "task=autoencoder",
                   "needs a classifier")


@pytest.mark.mnist
def test_predict_mnist_images(tmp_path, fcnn_here):
    """MNIST's 28x28 images as PNGs and as a gzipped IDX file give the same labels, those of the
    hand-computed net on pixel / 255; a 27x28 PNG is refused."""
    run = tmp_path / "run"
    result = run_fcnn("train", "backend=numpy", "struct=[]", "max_epochs=1", "batch_size=100",
                      "progress=false", "plot=false", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    raw = datasets.read_idx_dir(paths.mnist_dir(None))["x_test"][:20].reshape(-1, 28, 28)
    write_pngs(tmp_path / "pngs", raw)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", raw)
    expected, _ = oracle(run, raw / 255.0)
    for source in ("pngs", "t10k-images-idx3-ubyte.gz"):
        result = fcnn_here("predict", str(run), str(tmp_path / source))
        assert result.returncode == 0, result.stderr
        assert read_csv(result.stdout)[1] == expected.tolist()
    model = json.loads((run / "metrics.json").read_text())
    assert model["test_acc"] > 0.85
    Image.fromarray(np.zeros((27, 28), np.uint8), mode="L").save(tmp_path / "pngs" / "odd.png")
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "pngs")), "odd.png",
                   "28x27 pixels", "28x28")
