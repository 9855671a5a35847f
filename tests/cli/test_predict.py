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
from helpers import NUMPY_FAST, assert_refused, read_metrics, run_fcnn, train_here
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


def on_paper(directory: Path, images: np.ndarray, side: int | None = None, page: int = 200,
             resample: int = Image.Resampling.NEAREST, grey: bool = False) -> list[Path]:
    """Light-on-black images as a scan of handwriting holds them, as PNGs in `directory`: dark
    ink on white paper; with `side`, enlarged to side x side and put off-centre (somewhere else
    for each image) on a page x page sheet; `grey`: a photo's paper instead, grey, darker to the
    left, with grain."""
    directory.mkdir()
    rng = np.random.default_rng(0)
    files = []
    for i, image in enumerate(images):
        ink = Image.fromarray(image.astype(np.uint8), mode="L")
        if side is None:
            sheet = 255 - np.asarray(ink, dtype=np.float64)
        else:
            enlarged = np.asarray(ink.resize((side, side), resample), dtype=np.float64) / 255
            top, left = (7 * i) % (page - side + 1), (13 * i + 5) % (page - side + 1)
            sheet = np.full((page, page), 255.0)
            if grey:
                sheet = 190 + np.linspace(-10, 10, page)[None, :] + rng.normal(0, 6, (page, page))
            sheet[top:top + side, left:left + side] -= enlarged * (140 if grey else 255)
        files.append(directory / f"img{i}.png")
        Image.fromarray(np.clip(np.rint(sheet), 0, 255).astype(np.uint8), mode="L").save(files[-1])
    return files


def whole_page(files: list[Path], shape: tuple[int, int]) -> np.ndarray:
    """What a user without --resize would do: each page inverted and scaled whole to `shape`."""
    return np.array([np.asarray(Image.fromarray(255 - np.asarray(Image.open(f)), mode="L")
                                .resize(shape[::-1], Image.Resampling.BOX)) for f in files])


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
                   "8x8 grayscale", "pass --resize")
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


def test_predict_takes_handwriting_dark_on_light_of_any_size(digits_run, digits_raw, tmp_path,
                                                             fcnn_here):
    """The digits test images as handwriting is scanned: dark on white, refused in one line
    naming --invert, and with it labelled as the originals, exactly; then enlarged 15 times and
    off-centre on a 200x200 sheet, refused naming --resize, and with --invert --resize labelled
    as the originals (all but a few: the redrawn digit may sit a pixel off), where the sheet
    scaled whole to 8x8 is not."""
    run = digits_run("numpy")
    raw, labels = digits_raw
    pixels = np.rint(raw * (255 / 16)).astype(np.uint8)
    expected, confidence = oracle(run, pixels / 255.0)

    paper = on_paper(tmp_path / "paper", pixels)
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "paper")), "img0.png",
                   "dark on a light background", "pass --invert")
    result = fcnn_here("predict", str(run), str(tmp_path / "paper"), "--invert")
    assert result.returncode == 0, result.stderr
    names, got, probability = read_csv(result.stdout)
    assert names == [f.name for f in paper] and got == expected.tolist()
    np.testing.assert_allclose(probability, confidence, atol=2e-6)
    write_pngs(tmp_path / "light-on-black", pixels[:3])  # --invert where none was needed
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "light-on-black"), "--invert"),
                   "img0.png", "drop --invert")

    sheets = on_paper(tmp_path / "sheets", pixels, side=120)
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "sheets")), "img0.png",
                   "200x200 pixels", "dark on a light background", "pass --invert --resize")
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "sheets"), "--invert"),
                   "img0.png", "200x200 pixels", "8x8", "pass --resize")
    result = fcnn_here("predict", str(run), str(tmp_path / "sheets"), "--invert", "--resize")
    assert result.returncode == 0, result.stderr
    names, got, _ = read_csv(result.stdout)
    assert names == [f.name for f in sheets]
    agree = np.mean(np.array(got) == expected)
    assert agree >= 0.9, agree
    assert np.mean(np.array(got) == labels) >= read_metrics(run)["test_acc"] - 0.05
    naive, _ = oracle(run, whole_page(sheets, (8, 8)) / 255.0)
    assert np.mean(naive == expected) < agree - 0.4

    blank = tmp_path / "blank"
    write_pngs(blank, np.zeros((1, 30, 30)))
    assert_refused(fcnn_here("predict", str(run), str(blank), "--resize"), "img0.png", "blank")
    np.save(tmp_path / "rows.npy", raw.reshape(len(raw), -1))
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "rows.npy"), "--invert"),
                   "--invert", "applies to PNG images")


def test_predict_refuses_an_autoencoder(tmp_path, fcnn_here):
    ae = tmp_path / "ae"
    assert train_here(*NUMPY_FAST, "task=autoencoder", "struct=[8]", "max_epochs=1",
                    "plot=false", f"hydra.run.dir={ae}").returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 64), np.uint8))
    assert_refused(fcnn_here("predict", str(ae), str(tmp_path / "x.npy")), "task=autoencoder",
                   "needs a classifier")


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory) -> Path:
    """A softmax regression trained one epoch on the real MNIST."""
    run = tmp_path_factory.mktemp("mnist") / "run"
    result = train_here("backend=numpy", "struct=[]", "max_epochs=1", "batch_size=100",
                      "progress=false", "plot=false", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    return run


@pytest.mark.mnist
def test_predict_mnist_images(mnist_run, tmp_path, fcnn_here):
    """MNIST's 28x28 images as PNGs and as a gzipped IDX file give the same labels, those of the
    hand-computed net on pixel / 255; a 27x28 PNG is refused."""
    run = mnist_run
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


@pytest.mark.mnist
def test_predict_mnist_digits_as_handwriting(mnist_run, tmp_path, fcnn_here):
    """MNIST test digits written dark on white (the first is a 7), refused without --invert and
    labelled as the originals with it; enlarged to 140x140 and off-centre on a 200x200 sheet,
    white or a photo's grey, grainy paper, refused without --resize and labelled as the originals
    with --invert --resize (as good as the originals against the true labels), where the sheet
    scaled whole to 28x28 is not."""
    run = mnist_run
    data = datasets.read_idx_dir(paths.mnist_dir(None))
    raw, labels = data["x_test"][:100].reshape(-1, 28, 28), data["y_test"][:100]
    expected, confidence = oracle(run, raw / 255.0)
    assert labels[0] == 7 and expected[0] == 7

    on_paper(tmp_path / "paper", raw)
    assert_refused(fcnn_here("predict", str(run), str(tmp_path / "paper" / "img0.png")),
                   "img0.png", "dark on a light background", "pass --invert")
    result = fcnn_here("predict", str(run), str(tmp_path / "paper"), "--invert")
    assert result.returncode == 0, result.stderr
    _, got, probability = read_csv(result.stdout)
    assert got == expected.tolist()
    np.testing.assert_allclose(probability, confidence, atol=2e-6)

    # A photo's grain and shading cost a few digits more than clean white paper.
    for folder, grey, agreeing, lost in (("sheets", False, 0.95, 0.03), ("photos", True, 0.9, 0.05)):
        sheets = on_paper(tmp_path / folder, raw, side=140, resample=Image.Resampling.BILINEAR,
                          grey=grey)
        assert_refused(fcnn_here("predict", str(run), str(sheets[0]), "--invert"), "img0.png",
                       "200x200 pixels", "28x28", "pass --resize")
        result = fcnn_here("predict", str(run), str(tmp_path / folder), "--invert", "--resize")
        assert result.returncode == 0, result.stderr
        got = np.array(read_csv(result.stdout)[1])
        assert got[0] == 7
        assert np.mean(got == expected) >= agreeing, (folder, np.mean(got == expected))
        assert np.mean(got == labels) >= np.mean(expected == labels) - lost, folder
        naive, _ = oracle(run, whole_page(sheets, (28, 28)) / 255.0)
        assert np.mean(naive == expected) < 0.5, folder
