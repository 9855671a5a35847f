"""Augmentation: each epoch trains on copies of the training images, shifted and distorted.

Shifts (`augment.shift`): every image moved by up to K pixels in each direction, the space it
leaves filled with zeros (the background).

Distortions (`augment.elastic.*`, `augment.rotate`, `augment.scale`, `augment.shear`): every image
resampled once, bilinearly and zero outside, at

    source(p) = c + A^-1 (p - c) + alpha * smooth(u)(p)

for each pixel p, c the image's centre. A = rotation(theta) . shear(phi) . scaling(s_rows,
s_cols) is the affine part (Ciresan et al. 2010): theta uniform in +-rotate degrees, phi (a
horizontal shear) in +-shear degrees, each axis's factor in 1 +- scale. The elastic part is
Simard et al.'s (2003): a field u of two displacements per pixel, uniform in [-1, 1], smoothed
by a Gaussian of `sigma` pixels (scipy's gaussian_filter1d, reflecting at the edges, written as
a matrix so a stack of fields is smoothed by two BLAS products) and scaled by alpha pixels.
Distortions come first, then the shift.

Everything is a pure function of (seed, epoch): one generator per epoch for the shifts, one per
epoch and CHUNK images for the distortions, so image i's warp depends on (seed, epoch, i) only.
Every backend trains on the very same images for the same seed, and a resumed run draws what
the uninterrupted one drew (nothing goes into a checkpoint). Only the training inputs change;
the validation and test sets, and the training curves, are scored on the images as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fcnn_cli.config.settings import DistortionSettings

#: Images per generator of distortions: image i is warped by what generator (seed, epoch,
#: i // CHUNK) draws, and an epoch is made a chunk at a time, in memory that stays in cache.
CHUNK = 1024
# The generators' streams, distinct from every other seeded draw of a run (SeedSequence reads a
# trailing 0 as absent: [seed, 3, epoch, 0] would be dropout's [seed, 3, epoch]).
_AFFINE, _ELASTIC = 5, 6


def draw_shifts(seed: int, epoch: int, n: int, k: int) -> np.ndarray:
    """(n, 2) integer shifts (rows down, columns right), each uniform in -k..k, for epoch
    `epoch` of the run seeded `seed`."""
    return np.random.default_rng([seed, 2, epoch]).integers(-k, k + 1, size=(n, 2))


def _span(d: int, size: int) -> tuple[slice, slice]:
    """(destination, source) slices of one axis moved by d (zero-filled where it leaves)."""
    return (slice(d, size), slice(0, size - d)) if d >= 0 else (slice(0, size + d), slice(-d, size))


def shift_images(x: np.ndarray, image: Sequence[int], shifts: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """The rows of `x` (flattened images of shape `image`), row i moved by shifts[i]; zeros where
    nothing moved in. Rows sharing a shift are moved together: (2k+1)^2 slice copies, not n."""
    rows, cols = image
    out = np.zeros_like(x) if out is None else out
    if out is not x:
        out[...] = 0
    src, dst = x.reshape(-1, rows, cols), out.reshape(-1, rows, cols)
    code = (shifts[:, 0] + rows) * (2 * cols + 1) + (shifts[:, 1] + cols)  # one key per shift
    order = np.argsort(code, kind="stable")
    keys, starts = np.unique(code[order], return_index=True)
    for key, group in zip(keys, np.split(order, starts[1:]), strict=True):
        dy, dx = divmod(int(key), 2 * cols + 1)
        (to_r, from_r), (to_c, from_c) = _span(dy - rows, rows), _span(dx - cols, cols)
        dst[group, to_r, to_c] = src[group, from_r, from_c]
    return out


def shifted_training_set(x: np.ndarray, image: Sequence[int], seed: int, epoch: int, k: int,
                         out: np.ndarray | None = None) -> np.ndarray:
    """Epoch `epoch`'s training inputs: every row of `x` shifted by its drawn amount."""
    return shift_images(x, image, draw_shifts(seed, epoch, x.shape[0], k), out)


@functools.lru_cache(maxsize=8)
def smoothing_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) float32 G with G @ v = scipy.ndimage.gaussian_filter1d(v, sigma) for any v of
    that length (reflected at the ends, truncated at 4 sigma): the filter as a matrix."""
    from scipy import ndimage  # lazily: only a run that distorts needs scipy

    matrix = ndimage.gaussian_filter1d(np.eye(size), sigma, axis=0).astype(np.float32)
    matrix.setflags(write=False)  # shared by every call (cached)
    return matrix


def affine_inverse(theta: np.ndarray, phi: np.ndarray, s_rows: np.ndarray,
                   s_cols: np.ndarray) -> np.ndarray:
    """(m, 2, 2) matrices A^-1 in (row, column) coordinates, A = rotation(theta) . shear(phi) .
    scaling(s_rows, s_cols) (angles in radians; the shear moves columns in proportion to the
    row); exactly the identity where theta and phi are 0 and the factors 1."""
    cos, sin, tan = np.cos(theta), np.sin(theta), np.tan(phi)
    # A = [[cos, -sin], [sin, cos]] @ [[1, 0], [tan, 1]] @ diag(s_rows, s_cols), inverted factor
    # by factor: diag(1/s_rows, 1/s_cols) @ [[1, 0], [-tan, 1]] @ [[cos, sin], [-sin, cos]]
    inverse = np.empty((len(cos), 2, 2))
    inverse[:, 0, 0], inverse[:, 0, 1] = cos / s_rows, sin / s_rows
    inverse[:, 1, 0], inverse[:, 1, 1] = (-tan * cos - sin) / s_cols, (cos - tan * sin) / s_cols
    return inverse


def draw_affine(seed: int, epoch: int, chunk: int, m: int, d: DistortionSettings) -> np.ndarray:
    """affine_inverse of chunk `chunk`'s m images: theta uniform in +-d.rotate degrees, phi in
    +-d.shear degrees, each factor in 1 +- d.scale."""
    u = np.random.default_rng([seed, _AFFINE, epoch, chunk]).random((m, 4)) * 2 - 1
    return affine_inverse(np.deg2rad(d.rotate) * u[:, 0], np.deg2rad(d.shear) * u[:, 1],
                          1 + d.scale * u[:, 2], 1 + d.scale * u[:, 3])


def draw_elastic(seed: int, epoch: int, chunk: int, m: int, image: Sequence[int],
                 d: DistortionSettings) -> np.ndarray:
    """(m, 2, rows, cols) float32 displacements in pixels (rows, then columns) of chunk `chunk`'s
    m images: uniform in [-1, 1], smoothed by the Gaussian of d.elastic_sigma, times alpha."""
    rows, cols = image
    rng = np.random.default_rng([seed, _ELASTIC, epoch, chunk])
    field = rng.random((m, 2, rows, cols), dtype=np.float32)
    field *= 2
    field -= 1
    field = smoothing_matrix(rows, d.elastic_sigma) @ field  # along the rows,
    field = field @ smoothing_matrix(cols, d.elastic_sigma).T  # then the columns
    field *= np.float32(d.elastic_alpha)
    return field


def sources(inverse: np.ndarray, displacement: np.ndarray | None,
            image: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The (m, rows, cols) float32 row and column each output pixel is read from: the centre
    plus A^-1 (p - centre), plus the elastic displacement."""
    rows, cols = image
    # p - centre: exact in float32 (half-integers), so the identity matrix gives p back exactly
    r = np.arange(rows, dtype=np.float32)[:, None] - np.float32((rows - 1) / 2)
    c = np.arange(cols, dtype=np.float32)[None, :] - np.float32((cols - 1) / 2)
    a = inverse.astype(np.float32)[:, :, :, None, None]
    src_r = a[:, 0, 0] * r + a[:, 0, 1] * c + np.float32((rows - 1) / 2)
    src_c = a[:, 1, 0] * r + a[:, 1, 1] * c + np.float32((cols - 1) / 2)
    if displacement is not None:
        src_r += displacement[:, 0]
        src_c += displacement[:, 1]
    return src_r, src_c


def bilinear(x: np.ndarray, image: Sequence[int], src_r: np.ndarray,
             src_c: np.ndarray) -> np.ndarray:
    """The rows of `x` (flattened images), each pixel read at (src_r, src_c) of its image by
    bilinear interpolation, zero outside: scipy.ndimage.map_coordinates(order=1,
    mode='grid-constant') per image, vectorised over the stack, and a pixel read at whole
    coordinates is that pixel exactly."""
    rows, cols = image
    m, width = x.shape[0], cols + 2
    # Each image in a border of zeros, and one zero image after the last: every read stays in
    # the array, and a read up to a pixel outside an image blends in its zeros.
    padded = np.zeros((m + 1, rows + 2, width), dtype=x.dtype)
    padded[:m, 1:-1, 1:-1] = x.reshape(m, rows, cols)
    r = np.clip(src_r, -1, rows)  # further out is zeros too
    c = np.clip(src_c, -1, cols)
    r0, c0 = np.floor(r), np.floor(c)
    wr, wc = r - r0, c - c0
    at = ((np.arange(m) * ((rows + 2) * width))[:, None, None]
          + (r0.astype(np.intp) + 1) * width + (c0.astype(np.intp) + 1))
    flat = padded.ravel()
    top_left, top_right = flat.take(at), flat.take(at + 1)
    bottom_left, bottom_right = flat.take(at + width), flat.take(at + width + 1)
    top = top_left + (top_right - top_left) * wc
    bottom = bottom_left + (bottom_right - bottom_left) * wc
    return (top + (bottom - top) * wr).reshape(m, rows * cols)


def distorted_training_set(x: np.ndarray, image: Sequence[int], seed: int, epoch: int,
                           d: DistortionSettings, out: np.ndarray | None = None) -> np.ndarray:
    """Epoch `epoch`'s distorted training inputs: every row of `x` warped by its drawn
    distortion, a chunk of CHUNK rows at a time. With every strength 0, `x` itself."""
    if not d.active:
        return x
    out = np.empty_like(x) if out is None else out
    for chunk, start in enumerate(range(0, x.shape[0], CHUNK)):
        rows = slice(start, min(start + CHUNK, x.shape[0]))
        m = rows.stop - start
        inverse = draw_affine(seed, epoch, chunk, m, d)
        displacement = draw_elastic(seed, epoch, chunk, m, image, d) if d.elastic_alpha else None
        out[rows] = bilinear(x[rows], image, *sources(inverse, displacement, image))
    return out
