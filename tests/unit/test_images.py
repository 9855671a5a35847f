"""`fcnn predict --invert --resize`'s pictures (fcnn_cli.inference.images): the framing table held
to the datasets' own images (their ink's box and centre of mass; a training image redrawn is
itself), and the light-background test against every test image and its inversion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fcnn_cli import paths
from fcnn_cli.data import datasets
from fcnn_cli.inference import images


def digits_test() -> np.ndarray:
    """The digits test images as 8-bit pixels (0..16 scaled to 0..255)."""
    return np.rint(datasets.load("digits").x_test * 255).reshape(-1, 8, 8)


def mnist_test() -> np.ndarray:
    return datasets.read_idx_dir(paths.mnist_dir(None))["x_test"].reshape(-1, 28, 28)


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows, columns = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def check_framing(name: str, pictures: np.ndarray, redrawn_share: float) -> None:
    """The table's box is the longer side of every image's ink; its centre, the images' mean
    centre of mass (to a tenth of a pixel); and `redrawn_share` of the images come back from
    `frame` as they were, to one grey level (the rest a pixel off: whole-pixel shifts)."""
    framing = images.FRAMINGS[name]
    assert {max(ink_box(p)) for p in pictures} == {framing.box}
    mass = np.array([ndimage.center_of_mass(p.astype(np.float64)) for p in pictures])
    np.testing.assert_allclose(mass.mean(axis=0), framing.centre, atol=0.1)
    redrawn = np.array([images.frame(p, p.shape, framing) for p in pictures])
    same = np.abs(redrawn - pictures).max(axis=(1, 2)) <= 1
    assert same.mean() >= redrawn_share, same.mean()


def test_the_digits_framing_is_the_digits_own():
    check_framing("digits", digits_test(), redrawn_share=0.85)


@pytest.mark.mnist
def test_the_mnist_framing_is_mnists_own():
    check_framing("mnist", mnist_test()[:1000], redrawn_share=0.99)


@pytest.mark.parametrize("load", [digits_test, pytest.param(mnist_test, marks=pytest.mark.mnist)])
def test_light_background_is_every_inverted_test_image_and_no_other(load):
    pictures = load()
    assert not any(images.light_background(p) for p in pictures)
    assert all(images.light_background(255 - p) for p in pictures)


def test_frame_a_digit_small_and_off_centre_on_grey_paper():
    """A bar of ink 12 pixels tall, 4 wide, in a corner of grey, grainy paper: scaled to 20
    pixels tall (its aspect kept), its centre of mass at (14, 14), the paper black."""
    rng = np.random.default_rng(0)
    page = 60 + rng.normal(0, 3, (90, 120))
    page[5:17, 100:104] = 230
    framed = images.frame(np.clip(page, 0, 255), (28, 28), images.FRAMINGS["mnist"])
    assert ink_box(framed) in ((20, 7), (20, 6))  # 4 * 20/12, and the ink's soft edges
    np.testing.assert_allclose(ndimage.center_of_mass(framed), (14, 14), atol=0.5)
    assert framed.max() == pytest.approx(255) and framed[:, :10].max() == 0
    assert images.frame(np.full((30, 30), 200.0), (28, 28), images.FRAMINGS["mnist"]) is None
