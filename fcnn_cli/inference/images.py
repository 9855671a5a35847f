"""A picture of a digit made like the training set's images (`fcnn predict --invert --resize`).

MNIST's digits are light on black, their ink's bounding box scaled to fit 20x20 pixels (keeping
its aspect) and placed in the 28x28 frame so that the ink's centre of mass lies at its centre
(LeCun et al., "The MNIST database"). A scan or a photo is dark ink on light paper, of any size,
anywhere in the picture: a net trained on MNIST labels it with high confidence and wrongly.
`light_background` finds such a picture; `frame` redraws the ink the way the training set's
images were drawn (`FRAMINGS`, per dataset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Framing:
    """How a dataset's images were drawn: the ink's bounding box scaled so its longer side is
    `box` pixels, then placed so the ink's centre of mass lies at `centre` (row, column; pixel
    indices), or with its bounding box centred when `centre` is None."""

    box: int
    centre: tuple[float, float] | None


# MNIST: a 20x20 box, the centre of mass at (14, 14) (the test set's mean is (13.99, 14.00)).
# digits (scikit-learn's, from UCI optdigits): 32x32 bitmaps, the digit as tall as the frame,
# summed in 4x4 blocks; its test set's centre of mass is at (3.47, 3.57), the frame's centre.
# Fashion-MNIST: the longer side resized to 28, the picture centred (its README's pipeline).
# tests/unit/test_images.py holds the first two to the datasets' own images.
FRAMINGS = {
    "mnist": Framing(box=20, centre=(14.0, 14.0)),
    "digits": Framing(box=8, centre=(3.5, 3.5)),
    "fashion": Framing(box=28, centre=None),
}


def border(pixels: np.ndarray) -> np.ndarray:
    """The pixels of the image's outermost rows and columns."""
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def light_background(pixels: np.ndarray) -> bool:
    """Whether the image (8-bit, 0..255) has a light background: most of its border is lighter
    than mid-grey. The training sets' digits and clothes lie on black, and rarely touch the
    border (MNIST's never do; the digits' touch at most a quarter of it)."""
    return bool(np.median(border(pixels)) > 127.5)


def frame(pixels: np.ndarray, shape: tuple[int, int], framing: Framing) -> np.ndarray | None:
    """The ink of `pixels` (8-bit, light on dark, any size) redrawn as the training set's images
    were: the background (the border's median) taken to black, the ink's bounding box scaled to
    `framing.box` on its longer side, placed in a `shape` frame by `framing.centre`. Values are
    floats in 0..255; None when there is no ink (a blank image)."""
    from PIL import Image

    picture = np.asarray(pixels, dtype=np.float64)
    level = _paper_level(picture)
    top = float(picture.max())
    if top <= level:
        return None
    # The paper to black and the strongest ink to white, as MNIST's (the core of a stroke 255).
    picture = np.clip((picture - level) * (255.0 / (top - level)), 0.0, 255.0)
    rows, columns = np.flatnonzero(picture.any(axis=1)), np.flatnonzero(picture.any(axis=0))
    ink = picture[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    height, width = ink.shape
    box = min(framing.box, *shape)
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL: (width, height)
    # Area-averaging when shrinking (the anti-aliasing that gave MNIST its grey edges, the
    # digits' 4x4 block sums), Lanczos when enlarging; both on floats, without rounding.
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
    scaled = np.clip(np.asarray(Image.fromarray(ink.astype(np.float32), mode="F")
                                .resize(size, method)), 0.0, 255.0)
    return _place(scaled, shape, framing)


def _paper_level(picture: np.ndarray) -> float:
    """The brightest value that is still paper, not ink: the border's median (its background,
    with ink on less than half of it) plus five robust standard deviations of its noise (the
    median absolute deviation, scaled): 0 for a clean image, above the grain of a photo's paper
    so that no speck of it counts as ink."""
    edge = border(picture)
    middle = float(np.median(edge))
    spread = 1.4826 * float(np.median(np.abs(edge - middle)))
    return middle + 5.0 * spread


def _place(ink: np.ndarray, shape: tuple[int, int], framing: Framing) -> np.ndarray:
    """`ink` in a black `shape` frame, shifted by whole pixels so its centre of mass lies at
    `framing.centre` (or its box in the middle), never past the frame's edges."""
    height, width = ink.shape
    if framing.centre is None or not ink.any():
        mass_row, mass_column = (height - 1) / 2, (width - 1) / 2
        target = ((shape[0] - 1) / 2, (shape[1] - 1) / 2)
    else:
        from scipy import ndimage

        mass_row, mass_column = ndimage.center_of_mass(ink)
        target = framing.centre
    top = min(max(round(target[0] - mass_row), 0), shape[0] - height)
    left = min(max(round(target[1] - mass_column), 0), shape[1] - width)
    out = np.zeros(shape)
    out[top:top + height, left:left + width] = ink
    return out



