"""New inputs for a saved model (`fcnn predict`): an IDX file, a .npy array, a PNG or a folder of
PNGs, turned into the net's feature rows with one rule for the values:

- integers (IDX ubyte files, integer .npy arrays, PNG pixels) are raw values: 0..255 pixels for
  MNIST, 0..16 for digits; they are divided by the model's `input_divisor` (PNG's 8-bit pixels
  by 255, the top of their own range);
- floats (.npy, IDX float/double) are features already scaled as the model takes them, used as
  they are; for a model trained on scaled images (input_divisor > 1) they must lie in [0, 1].

Shapes: rows of n_features, or images of the model's image_shape (N x 28 x 28 for MNIST). PNG
files must be 8-bit grayscale, light on a dark background as the training images were, of exactly
that size; a picture that is not is refused naming the option that makes it so: `invert` (dark ink
on light paper) and `resize` (any size: the ink scaled and centred as the dataset's were,
`fcnn_cli.inference.images`). Every problem is a one-line UsageError naming the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fcnn_cli.errors import UsageError

if TYPE_CHECKING:
    from fcnn_cli.runs.model_file import SavedModel

KEY = "INPUT"
# IDX type codes (the third byte of the magic number) and their big-endian numpy types.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# Slack for float features that were scaled in another precision.
FLOAT_SLACK = 1e-6


def read(path: Path, saved: SavedModel, invert: bool = False,
         resize: bool = False) -> tuple[list[str], np.ndarray]:
    """(a name per input, the feature rows) from INPUT: a folder of PNGs, a .npy file or an IDX
    file (plain or .gz). `invert` and `resize` (PNG images only): see `read_pngs`."""
    if path.is_dir():
        return read_png_folder(path, saved, invert, resize)
    if not path.is_file():
        raise UsageError(KEY, f"{path}: no such file or directory")
    if path.suffix.lower() == ".png":  # one image: `fcnn predict RUN my_digit.png`
        return read_pngs([path], saved, path, invert, resize)
    if invert or resize:  # arrays are the dataset's own format: taken as they are
        option = "--invert" if invert else "--resize"
        raise UsageError(option, f"applies to PNG images; {path} is an array (IDX or .npy), "
                                 "taken as it is")
    array = read_npy(path) if path.suffix.lower() == ".npy" else read_idx(path)
    x = to_features(array, saved, path)
    return [str(i) for i in range(x.shape[0])], x


def read_npy(path: Path) -> np.ndarray:
    """A .npy array, without running pickled code."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise UsageError(KEY, f"{path}: not a readable .npy array "
                              f"({' '.join(str(err).split()) or type(err).__name__})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive named .npy
        raise UsageError(KEY, f"{path}: an .npz archive, not a .npy array")
    return array


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format; gzipped or not), its header checked against its length."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_TYPES:
                raise UsageError(KEY, f"{path}: not an IDX file, a .npy array, a PNG image or a "
                                      "folder of them")
            ndim = magic[3]
            header = f.read(4 * ndim)
            if ndim == 0 or len(header) < 4 * ndim:
                raise UsageError(KEY, f"{path}: corrupt IDX file: shorter than its header")
            shape = struct.unpack(f">{ndim}I", header)
            dtype = np.dtype(IDX_TYPES[magic[2]])
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise UsageError(KEY, f"{path}: cannot read it: {err}") from None
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise UsageError(KEY, f"{path}: corrupt IDX file: {len(data)} data bytes, its header "
                              f"({' x '.join(map(str, shape))}) says {expected}")
    if ndim == 1:
        raise UsageError(KEY, f"{path}: an IDX file of {shape[0]} single values (a labels "
                              "file?), not images")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def to_features(array: np.ndarray, saved: SavedModel, path: Path) -> np.ndarray:
    """Feature rows from an array of rows or images, by the value rule in the module's doc."""
    n_features, image = saved.n_features, tuple(saved.image_shape)
    shapes = [f"N x {n_features}"] + ([f"N x {_shape_text(image)}"] if image else [])
    if array.ndim == 1 and array.shape[0] == n_features:
        array = array[None, :]
    elif array.ndim == 2 and image and array.shape == image and array.shape[1] != n_features:
        array = array[None]
    if not (array.ndim >= 2 and array.shape[0] > 0
            and (array.shape[1:] == (n_features,) or (image and array.shape[1:] == image))):
        raise UsageError(KEY, f"{path}: an array of shape {_shape_text(array.shape)}; the model "
                              f"takes {' or '.join(shapes)} (N inputs)")
    kind = array.dtype.kind
    if kind in "iu":
        top = saved.input_divisor or 1.0
        low, high = int(array.min()), int(array.max())
        if top > 1 and (low < 0 or high > top):
            raise UsageError(KEY, f"{path}: integer values from {low} to {high}; integers are raw "
                                  f"values, and this model's are 0..{top:g}")
        from fcnn_cli.inference import apply

        return apply.features(saved, array)
    if kind == "f":
        x = np.array(array.reshape(array.shape[0], -1), dtype=saved.dtype)
        if not np.isfinite(x).all():
            raise UsageError(KEY, f"{path}: holds NaN or infinite values")
        if (saved.input_divisor or 1.0) > 1 and (x.min() < -FLOAT_SLACK or x.max() > 1 + FLOAT_SLACK):
            divisor = saved.input_divisor
            raise UsageError(KEY, f"{path}: float values from {x.min():g} to {x.max():g}; floats are "
                                  f"features already scaled to [0, 1] (raw / {divisor:g}): divide by "
                                  f"{divisor:g}, or pass integer raw values")
        return x
    raise UsageError(KEY, f"{path}: values of type {array.dtype}; give integers (raw values) or "
                          "floats (scaled features)")


def read_png_folder(directory: Path, saved: SavedModel, invert: bool = False,
                    resize: bool = False) -> tuple[list[str], np.ndarray]:
    """Every *.png in `directory` (in natural order), as feature rows (see `read_pngs`)."""
    from fcnn_cli.runs.layout import natural_key

    files = sorted((p for p in directory.iterdir() if p.suffix.lower() == ".png" and p.is_file()),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise UsageError(KEY, f"{directory}: no .png files")
    return read_pngs(files, saved, directory, invert, resize)


def read_pngs(files: list[Path], saved: SavedModel, given: Path, invert: bool = False,
              resize: bool = False) -> tuple[list[str], np.ndarray]:
    """The PNG `files` (from INPUT `given`: a folder or one file), as feature rows: pixel / 255.
    `invert`: each pixel is 255 - pixel first (dark ink on light paper); `resize`: each image's
    ink scaled and centred in the model's frame as its dataset's images were (any size)."""
    from PIL import Image, UnidentifiedImageError

    image = tuple(saved.image_shape)
    if not image:
        raise UsageError(KEY, f"{given}: images, but this model's inputs are not images (it takes "
                              f"{saved.n_features} features); give a .npy array")
    rows = np.empty((len(files), saved.n_features), dtype=saved.dtype)
    for i, file in enumerate(files):
        try:
            with Image.open(file) as img:
                img.load()
                pixels = _gray_pixels(img, file)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise UsageError(KEY, f"{file}: not a readable PNG image ({err})") from None
        rows[i] = _as_trained(pixels, saved, file, invert, resize).reshape(-1)
    rows /= saved.dtype.type(255)
    return [f.name for f in files], rows


def _as_trained(pixels: np.ndarray, saved: SavedModel, file: Path, invert: bool,
                resize: bool) -> np.ndarray:
    """An image's 8-bit pixels as the model's training images were drawn: light on a dark
    background, of the model's size; a picture that is not (and that no option given makes so)
    is refused in one line naming the options that would."""
    from fcnn_cli.inference import images

    shape = tuple(saved.image_shape)
    size = f"{shape[1]}x{shape[0]}"
    if invert:
        pixels = 255 - pixels
    if images.light_background(pixels):
        if invert:
            raise UsageError(KEY, f"{file}: with --invert its background is light: it was light "
                                  "on dark already; drop --invert")
        if pixels.shape != shape and not resize:
            height, width = pixels.shape
            raise UsageError(KEY, f"{file}: {width}x{height} pixels, dark on a light background; "
                                  f"the model takes {size} images, light on black: pass --invert "
                                  f"--resize (the ink scaled and centred as the training images')")
        raise UsageError(KEY, f"{file}: dark on a light background; the model's training images "
                              "are light on black: pass --invert (each pixel becomes 255 - pixel)")
    if resize:
        framing = images.FRAMINGS.get(saved.dataset)
        if framing is None:
            raise UsageError("--resize", f"knows how {', '.join(images.FRAMINGS)} images were "
                                         f"drawn, not {saved.dataset or 'this model'}'s; give "
                                         f"{size} images")
        framed = images.frame(pixels, (shape[0], shape[1]), framing)
        if framed is None:
            raise UsageError(KEY, f"{file}: blank (one shade throughout): no ink to scale and "
                                  "centre for --resize")
        return framed
    if pixels.shape != shape:
        height, width = pixels.shape
        raise UsageError(KEY, f"{file}: {width}x{height} pixels; the model takes {size} grayscale "
                              "images: pass --resize (the ink scaled and centred as the training "
                              f"images'), or crop and scale it to {size} yourself")
    return pixels


def _gray_pixels(img: object, file: Path) -> np.ndarray:
    """An 8-bit grayscale image's pixels (rows x columns); a colour image whose channels are all
    equal is grayscale too; anything else is refused."""
    mode = img.mode  # type: ignore[attr-defined]
    if mode in ("L", "1", "P", "LA", "RGB", "RGBA"):
        if mode in ("1", "P"):
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")  # type: ignore[attr-defined]
        pixels = np.asarray(img)
        if pixels.ndim == 2:
            return pixels
        colour, alpha = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1], None
        if pixels.shape[2] in (2, 4):
            alpha = pixels[..., -1]
        if alpha is not None and (alpha != 255).any():
            raise UsageError(KEY, f"{file}: has transparent pixels; save it as plain 8-bit grayscale")
        if colour.shape[2] == 3 and not ((colour[..., 0] == colour[..., 1]).all()
                                         and (colour[..., 1] == colour[..., 2]).all()):
            raise UsageError(KEY, f"{file}: a colour image; the model takes 8-bit grayscale")
        return colour[..., 0]
    raise UsageError(KEY, f"{file}: PNG mode {mode}; the model takes 8-bit grayscale (mode L)")
