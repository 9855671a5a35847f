"""Augmentation (fcnn_cli.core.augment). Shifts: the same shifts for the same seed and epoch,
uniform in -K..K, zero padding, exactly the images every backend trains on (numpy, jax, jax-grad
and sklearn alike, agreeing in float64), never the validation or test set, refused in one line
for data that are not images, and bitwise resume.

Distortions (elastic and affine): zero strength is the input itself; the warp is scipy's
(map_coordinates, affine_transform, gaussian_filter as oracles) and a pure function of (seed,
epoch, image); the elastic field's spread is the one its Gaussian predicts and grows with alpha;
a digit keeps its class (a net trained on distorted digits reads distorted test digits nearly as
well as a plain net reads plain ones, and an absurd strength leaves chance); every backend trains
on the same distorted images; resume is bitwise; bad values are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.resume import resume_every_epoch

from fcnn_cli import backends
from fcnn_cli.config.settings import DistortionSettings
from fcnn_cli.config.validate import from_config
from fcnn_cli.core import augment
from fcnn_cli.data import datasets
from fcnn_cli.data.dataset import Shape
from fcnn_cli.errors import UsageError
from fcnn_cli.training import loop


def _settings(backend: str = "numpy", **config):
    return from_config({"backend": {"name": backend}, "dataset": {"name": "digits"},
                        "struct": [16], "batch_size": 32, "seed": 3, "max_epochs": 3,
                        "lr": 0.1, "val_fraction": 0.1, "augment": {"shift": 2},
                        "progress": False, **config})


def _data(s):
    return datasets.load("digits", dtype=s.dtype, val_fraction=s.val_fraction, seed=s.seed)


def test_shifts_are_seeded_uniform_and_per_epoch():
    a, b = augment.draw_shifts(3, 1, 5000, 2), augment.draw_shifts(3, 1, 5000, 2)
    assert (a == b).all()
    assert not (a == augment.draw_shifts(3, 2, 5000, 2)).all()  # another epoch
    assert not (a == augment.draw_shifts(4, 1, 5000, 2)).all()  # another seed
    assert set(np.unique(a)) == {-2, -1, 0, 1, 2}
    counts = np.unique(a[:, 0], return_counts=True)[1]
    assert counts.min() > 0.8 * 1000 and counts.max() < 1.2 * 1000


def test_shifted_images_are_moved_with_zero_padding():
    rng = np.random.default_rng(0)
    x = rng.random((200, 5 * 7)) + 1.0  # no zeros of its own: every zero below is padding
    shifts = augment.draw_shifts(1, 1, 200, 3)
    out = augment.shift_images(x, (5, 7), shifts)
    for i, (dy, dx) in enumerate(shifts):
        img, ref = x[i].reshape(5, 7), np.zeros((5, 7))
        for r in range(5):
            for c in range(7):
                if 0 <= r - dy < 5 and 0 <= c - dx < 7:
                    ref[r, c] = img[r - dy, c - dx]
        assert (out[i].reshape(5, 7) == ref).all(), (i, dy, dx)
    assert ((out == 0).sum(axis=1) == [5 * 7 - (5 - abs(dy)) * (7 - abs(dx))
                                      for dy, dx in shifts]).all()


class Seen:
    """Wraps a backend's set_train_inputs to keep a copy of every epoch's training inputs."""

    def __init__(self, backend):
        self.inputs, self._set = [], backend.set_train_inputs
        backend.set_train_inputs = self

    def __call__(self, x):
        self.inputs.append(x.copy())
        self._set(x)


@pytest.fixture(scope="module")
def numpy_run():
    s = _settings(dtype="float64")
    data = _data(s)
    before = {name: data.split(name)[0].copy() for name in ("train", "val", "test")}
    backend = backends.create(s, data)
    seen = Seen(backend)
    history = loop.run(backend, s)
    return s, data, before, backend, seen.inputs, history


def test_each_epoch_trains_on_its_shifted_copies_and_nothing_else_is_touched(numpy_run):
    s, data, before, backend, inputs, history = numpy_run
    assert len(inputs) == 3
    for epoch, x in enumerate(inputs, 1):
        expected = augment.shift_images(before["train"], (8, 8),
                                        augment.draw_shifts(s.seed, epoch, data.n_train, 2))
        assert (x == expected).all()
        assert not (x == before["train"]).all()
    for name in ("train", "val", "test"):  # the splits (and what is scored) stay as they were
        assert (data.split(name)[0] == before[name]).all()
    assert backend.evaluate("train") == (history.last.train_loss, history.last.train_acc)


@pytest.mark.parametrize("name", ["jax", "jax-grad", "sklearn"])
def test_every_backend_trains_on_the_same_images(name, numpy_run):
    s, _, _, numpy_backend, numpy_inputs, numpy_history = numpy_run
    s = _settings(name, dtype="float64")
    backend = backends.create(s, _data(s))
    seen = Seen(backend)
    history = loop.run(backend, s)
    assert all((a == b).all() for a, b in zip(seen.inputs, numpy_inputs, strict=True))
    if name != "sklearn":  # the same init: the same weights to rounding, in float64
        for (w, _), (w0, _) in zip(backend.get_params(), numpy_backend.get_params(), strict=True):
            np.testing.assert_allclose(w, w0, rtol=0, atol=1e-9 * np.abs(w0).max())
        assert [r.train_acc for r in history.records] == [
            r.train_acc for r in numpy_history.records]


def test_augmentation_changes_training(numpy_run):
    s, _, _, numpy_backend, _, _ = numpy_run
    plain = _settings(dtype="float64", augment={"shift": 0})
    backend = backends.create(plain, _data(plain))
    loop.run(backend, plain)
    assert not np.allclose(backend.get_params()[0][0], numpy_backend.get_params()[0][0])


def test_refused_in_one_line_for_data_that_are_not_images_or_too_far():
    with pytest.raises(UsageError) as err:
        from_config({"backend": {"name": "numpy"}, "augment": {"shift": 1}},
                    data_shape=Shape(100, 0, 5, 2))
    assert "augment.shift" in str(err.value) and "not images" in str(err.value)
    for bad in (8, -1, 1.5, "two"):
        with pytest.raises(UsageError) as err:
            _settings(augment={"shift": bad})
        assert "augment.shift" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_resume_is_bitwise(tmp_path, backend):
    s = _settings(backend, max_epochs=4, optimizer={"name": "adam"}, lr=0.01)
    resume_every_epoch(tmp_path, s, _data(s))


# --- distortions ------------------------------------------------------------------------------

#: Simard et al.'s elastic field and Ciresan et al.'s affine ranges, on MNIST's 28x28
PUBLISHED = DistortionSettings(elastic_alpha=34.0, elastic_sigma=4.0, rotate=15.0, scale=0.15,
                               shear=15.0)
#: the same on digits' 8x8, in proportion to the side: sigma k times, alpha k^2 times (the
#: field's spread goes as alpha / sigma), k = 8/28
K = 8 / 28
DIGITS = DistortionSettings(elastic_alpha=34.0 * K * K, elastic_sigma=4.0 * K, rotate=15.0,
                            scale=0.15, shear=15.0)
DISTORT = {"elastic": {"alpha": DIGITS.elastic_alpha, "sigma": DIGITS.elastic_sigma},
           "rotate": 15.0, "scale": 0.15, "shear": 15.0}


def _images(n: int, image=(28, 28), seed: int = 0) -> np.ndarray:
    """Smooth random images with a zero border, as digits are."""
    from scipy import ndimage

    rows, cols = image
    x = ndimage.gaussian_filter(np.random.default_rng(seed).random((n, rows, cols)), (0, 1, 1))
    x[:, :2], x[:, -2:], x[:, :, :2], x[:, :, -2:] = 0, 0, 0, 0
    return x.reshape(n, rows * cols).astype(np.float32)


def test_zero_strength_is_the_identity_exactly():
    x = _images(50)
    assert augment.distorted_training_set(x, (28, 28), 1, 1, DistortionSettings()) is x
    # elastic.sigma alone distorts nothing
    assert not DistortionSettings(elastic_sigma=9.0).active
    # the affine part at zero strength is the identity matrix, which reads every pixel back
    inverse = augment.draw_affine(1, 1, 0, 50, DistortionSettings(elastic_alpha=1.0))
    assert (inverse == np.eye(2)).all()
    src_r, src_c = augment.sources(inverse, None, (28, 28))
    assert (src_r == np.arange(28)[:, None]).all() and (src_c == np.arange(28)[None, :]).all()
    out = augment.bilinear(x, (28, 28), src_r, src_c)
    assert out.dtype == x.dtype and out.tobytes() == x.tobytes()
    # a training run with every strength 0 never replaces its training inputs
    s = _settings(augment={"shift": 0, "rotate": 0.0, "elastic": {"alpha": 0.0}})
    assert not s.distortion.active
    backend = backends.create(s, _data(s))
    seen = Seen(backend)
    loop.run(backend, s)
    assert seen.inputs == [] and backend.train_x is backend.data.x_train


def test_bilinear_is_scipys_map_coordinates():
    from scipy import ndimage

    x = _images(40, (9, 7))
    rng = np.random.default_rng(1)
    # everywhere: inside, within a pixel of the edge (blending in zeros), far outside
    src_r = rng.uniform(-3, 12, (40, 9, 7)).astype(np.float32)
    src_c = rng.uniform(-3, 10, (40, 9, 7)).astype(np.float32)
    out = augment.bilinear(x, (9, 7), src_r, src_c)
    for i in range(40):
        ref = ndimage.map_coordinates(x[i].reshape(9, 7).astype(np.float64), [src_r[i], src_c[i]],
                                      order=1, mode="grid-constant")
        np.testing.assert_allclose(out[i].reshape(9, 7), ref, rtol=0, atol=1e-6)


def test_the_affine_warp_is_scipys_affine_transform_and_turns_the_right_way():
    from scipy import ndimage

    x = _images(64)
    d = DistortionSettings(rotate=30.0, scale=0.2, shear=20.0)
    inverse = augment.draw_affine(7, 2, 0, 64, d)
    out = augment.bilinear(x, (28, 28), *augment.sources(inverse, None, (28, 28)))
    centre = np.array([13.5, 13.5])
    for i in range(64):
        ref = ndimage.affine_transform(x[i].reshape(28, 28).astype(np.float64), inverse[i],
                                       offset=centre - inverse[i] @ centre, order=1,
                                       mode="grid-constant")
        np.testing.assert_allclose(out[i].reshape(28, 28), ref, rtol=0, atol=1e-5)
    # each factor at a known value: a quarter turn is np.rot90; a shear moves each row's
    # columns in proportion to its distance from the centre row; scaling by 2 about the centre
    one = np.ones(1)
    turned = augment.bilinear(x[:1], (28, 28), *augment.sources(
        augment.affine_inverse(one * np.pi / 2, 0 * one, one, one), None, (28, 28)))
    np.testing.assert_allclose(turned.reshape(28, 28), np.rot90(x[0].reshape(28, 28)), atol=1e-5)
    src_r, src_c = augment.sources(augment.affine_inverse(0 * one, one * np.pi / 4, one, one),
                                   None, (28, 28))
    np.testing.assert_allclose(src_r[0], np.arange(28.0)[:, None] + 0 * src_c[0])
    np.testing.assert_allclose(src_c[0] - np.arange(28.0), -(np.arange(28.0) - 13.5)[:, None]
                               + 0 * src_c[0], atol=1e-5)
    src_r, _ = augment.sources(augment.affine_inverse(0 * one, 0 * one, 2 * one, 2 * one), None,
                               (28, 28))
    np.testing.assert_allclose(src_r[0, :, 0], 13.5 + (np.arange(28) - 13.5) / 2)
    # the drawn angles and factors lie in their ranges: the matrices' determinants are
    # 1 / (s_rows s_cols), within (1 +- scale)^-2
    det = np.linalg.det(augment.draw_affine(7, 2, 0, 5000, d))
    assert 1 / 1.2**2 <= det.min() < 0.8 and 1.25 < det.max() <= 1 / 0.8**2


def test_the_elastic_field_is_gaussian_smoothed_uniform_noise_scaled_by_alpha():
    from scipy import ndimage

    d = DistortionSettings(elastic_alpha=1.0, elastic_sigma=4.0)
    field = augment.draw_elastic(3, 1, 0, 2000, (28, 28), d)
    noise = np.random.default_rng([3, 6, 1, 0]).random((2000, 2, 28, 28), dtype=np.float32) * 2 - 1
    np.testing.assert_allclose(field, ndimage.gaussian_filter(noise, (0, 0, 4, 4)), atol=1e-6)
    # its spread at the centre pixel: the variance of uniform noise (1/3) times the squared
    # weights of the 2-D Gaussian, (sum g_i^2)^2
    g = augment.smoothing_matrix(28, 4.0)[14].astype(np.float64)
    expected = np.sqrt(1 / 3) * (g**2).sum()
    centre = field[:, :, 14, 14]
    assert abs(centre.mean()) < 0.1 * expected
    assert abs(centre.std() / expected - 1) < 0.05
    # the mean displacement grows with alpha (in proportion) and shrinks with sigma
    magnitude = {}
    for alpha, sigma in ((10.0, 4.0), (34.0, 4.0), (34.0, 2.0)):
        f = augment.draw_elastic(3, 1, 0, 500, (28, 28), DistortionSettings(alpha, sigma))
        magnitude[alpha, sigma] = np.hypot(f[:, 0], f[:, 1]).mean()
    assert magnitude[34.0, 4.0] == pytest.approx(3.4 * magnitude[10.0, 4.0], rel=1e-5)
    assert magnitude[34.0, 2.0] > 1.5 * magnitude[34.0, 4.0]
    assert 1.0 < magnitude[34.0, 4.0] < 3.0  # Simard's field moves a pixel by 1-3 pixels


def test_distortions_are_a_pure_function_of_seed_epoch_and_image():
    x = _images(2500)
    a = augment.distorted_training_set(x, (28, 28), 3, 1, PUBLISHED)
    assert a.dtype == x.dtype and a.shape == x.shape
    assert a.tobytes() == augment.distorted_training_set(x, (28, 28), 3, 1, PUBLISHED).tobytes()
    for other in ((3, 2), (4, 1)):  # another epoch, another seed
        b = augment.distorted_training_set(x, (28, 28), *other, PUBLISHED)
        assert (np.abs(a - b).max(axis=1) > 0.01).all()
    # image i is warped the same whatever the set's size (chunk by chunk)
    head = augment.distorted_training_set(x[:1500], (28, 28), 3, 1, PUBLISHED)
    assert head.tobytes() == a[:1500].tobytes()
    # in place of a buffer from an earlier epoch; float64 data warped as float32 data are
    out = np.empty_like(x)
    assert augment.distorted_training_set(x, (28, 28), 3, 1, PUBLISHED, out=out) is out
    assert out.tobytes() == a.tobytes()
    wide = augment.distorted_training_set(x.astype(np.float64), (28, 28), 3, 1, PUBLISHED)
    assert wide.dtype == np.float64
    np.testing.assert_allclose(wide, a, atol=1e-6)


def test_a_distorted_digit_keeps_its_class():
    """fcnn's numpy net trained on distorted digits reads distorted test digits nearly as well
    as the same net trained on plain digits reads plain ones; trained and read at an absurd
    strength it is near chance: the distortions keep what makes the class, up to a point.

    Measured (40 epochs of [64]): plain 0.97; Ciresan's affine ranges 0.94; with Simard's field
    too (scaled to 8x8) 0.85, where a third of a pixel of jitter on an 8-pixel digit, resampled,
    blurs more than on MNIST (100 epochs of [256]: 0.91); absurd 0.09 (chance: 0.10)."""

    def accuracy(distort) -> float:
        s = _settings(dtype="float32", struct=[64], max_epochs=40, val_fraction=0.0, lr=0.05,
                      optimizer={"name": "sgd", "momentum": 0.9}, annealing=0.97,
                      augment={"shift": 0, **distort})
        data = _data(s)
        backend = backends.create(s, data)
        loop.run(backend, s)
        test = augment.distorted_training_set(data.x_test, (8, 8), 99, 1, s.distortion)
        return float((backend.predict(test) == data.y_test).mean())

    plain = accuracy({})
    affine = accuracy({"rotate": 15.0, "scale": 0.15, "shear": 15.0})
    distorted = accuracy(DISTORT)
    absurd = accuracy({"elastic": {"alpha": 30.0, "sigma": DIGITS.elastic_sigma},
                       "rotate": 180.0, "scale": 0.6, "shear": 60.0})
    assert plain > 0.93
    assert affine > plain - 0.06, (plain, affine)
    assert distorted > plain - 0.15, (plain, distorted)
    assert absurd < 0.35, absurd


@pytest.fixture(scope="module")
def distorted_run():
    s = _settings(dtype="float64", augment={"shift": 1, **DISTORT})
    data = _data(s)
    before = data.x_train.copy()
    backend = backends.create(s, data)
    seen = Seen(backend)
    history = loop.run(backend, s)
    return s, before, backend, seen.inputs, history


def test_each_epoch_trains_on_its_distorted_then_shifted_copies(distorted_run):
    s, before, _, inputs, _ = distorted_run
    assert len(inputs) == 3
    for epoch, x in enumerate(inputs, 1):
        warped = augment.distorted_training_set(before, (8, 8), s.seed, epoch, s.distortion)
        expected = augment.shifted_training_set(warped, (8, 8), s.seed, epoch, 1)
        assert x.tobytes() == expected.tobytes()
    assert inputs[0].tobytes() != inputs[1].tobytes()  # drawn afresh each epoch


@pytest.mark.parametrize("name", ["jax", "jax-grad", "sklearn"])
def test_every_backend_trains_on_the_same_distorted_images(name, distorted_run):
    s, _, numpy_backend, numpy_inputs, numpy_history = distorted_run
    s = _settings(name, dtype="float64", augment={"shift": 1, **DISTORT})
    backend = backends.create(s, _data(s))
    seen = Seen(backend)
    history = loop.run(backend, s)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(seen.inputs, numpy_inputs, strict=True))
    if name != "sklearn":
        for (w, _), (w0, _) in zip(backend.get_params(), numpy_backend.get_params(), strict=True):
            np.testing.assert_allclose(w, w0, rtol=0, atol=1e-9 * np.abs(w0).max())
        assert [r.train_acc for r in history.records] == [
            r.train_acc for r in numpy_history.records]


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_resume_with_distortions_is_bitwise(tmp_path, backend):
    s = _settings(backend, max_epochs=4, optimizer={"name": "adam"}, lr=0.01,
                  augment={"shift": 0, **DISTORT})
    assert s.distortion.active
    resume_every_epoch(tmp_path, s, _data(s))


@pytest.mark.parametrize(("key", "bad", "allowed"), [
    ("elastic.alpha", -1, ">= 0"), ("elastic.alpha", float("inf"), "finite"),
    ("elastic.sigma", 0, "> 0"), ("elastic.sigma", -2.0, "> 0"),
    ("rotate", 181, "[0, 180]"), ("rotate", -5, "[0, 180]"), ("scale", 1.0, "[0, 1)"),
    ("shear", 90, "[0, 90)"), ("rotate", "lots", "a number"),
])
def test_bad_distortions_are_refused_in_one_line(key, bad, allowed):
    parent, _, leaf = f"augment.{key}".rpartition(".")
    config: dict = {leaf: bad}
    for part in reversed(parent.split(".")[1:]):
        config = {part: config}
    with pytest.raises(UsageError) as err:
        _settings(augment={"shift": 0, **config})
    message = str(err.value)
    assert f"augment.{key}" in message and allowed in message and "\n" not in message


def test_distortions_are_refused_for_data_that_are_not_images():
    for config in ({"rotate": 10.0}, {"elastic": {"alpha": 5.0}}):
        with pytest.raises(UsageError) as err:
            from_config({"backend": {"name": "numpy"}, "augment": config},
                        data_shape=Shape(100, 0, 5, 2))
        assert "not images" in str(err.value) and "\n" not in str(err.value)
    # sigma alone distorts nothing, and is allowed
    from_config({"backend": {"name": "numpy"}, "augment": {"elastic": {"sigma": 2.0}}},
                data_shape=Shape(100, 0, 5, 2))
