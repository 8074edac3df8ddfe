"""Where synth sets get their pixels: foreground + alpha pairs, and backgrounds.

Foregrounds (any folder; both shapes can be mixed):

- ``images/<name>.<ext>`` with ``alphas/<name>.<ext>`` (the alphamatting.com layout; an alpha's
  first channel is used) and optionally ``fg/<name>.<ext>``, a given foreground colour;
- an evaluation image set with one instance per image (``images/<name>``,
  ``alphas/<name>/00.png``, as dev-sets/single); images with several instances are skipped;
- ``<name>.png`` with four channels (RGBA): the colour is taken as the foreground as given.

Without a given foreground its colour is estimated from image and alpha (pymatting's
``estimate_foreground_ml``), so a composite over a new background carries no trace of the old
one at soft edges.

Backgrounds: image files in the folder are stills; a sub-folder holding images (directly or in
``frames/``) is a frame sequence (a video as frames). Procedural backgrounds are textures made
from the seed (octave value noise in a random palette, with rectangles and stripes for
structure); they come from no photograph, so they are disjoint from any data used for tuning.
All pixels are display-referred sRGB in [0, 1], as the dev-sets were composited.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.errors import InvalidInputError, MissingInputError
from vfxmatte.io.images import read_image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp", ".dpx"}
ALPHA_FLOOR = 1.0 / 255.0


@dataclass(frozen=True)
class ForegroundSource:
    name: str
    image: Path
    alpha: Path | None  # None: the image is RGBA
    colour: Path | None = None  # a given foreground colour


@dataclass(frozen=True)
class Background:
    """A still (one path) or a sequence (frames in order); ``procedural`` holds a texture seed."""

    name: str
    frames: tuple[Path, ...] = ()
    procedural: int | None = None


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def find_foregrounds(folder: str | Path) -> list[ForegroundSource]:
    """Every foreground in ``folder``; a folder with none is a one-line error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInputError(f"foreground folder not found: {folder}")
    found: list[ForegroundSource] = []
    alphas = {p.stem: p for p in _images(folder / "alphas")}
    for sub in sorted(p for p in (folder / "alphas").glob("*") if p.is_dir()):
        inside = _images(sub)
        if len(inside) == 1:  # an evaluation image set with one instance (dev-sets/single)
            alphas.setdefault(sub.name, inside[0])
    colours = {p.stem: p for p in _images(folder / "fg")}
    multi = {p.name for p in (folder / "alphas").glob("*") if p.is_dir() and len(_images(p)) > 1}
    for image in _images(folder / "images"):
        if image.stem in multi:
            continue
        if image.stem not in alphas:
            raise InvalidInputError(
                f"{image}: no alpha {folder / 'alphas' / image.stem}.<ext>; add it or remove "
                "the image from the foreground folder"
            )
        found.append(
            ForegroundSource(image.stem, image, alphas[image.stem], colours.get(image.stem))
        )
    for image in _images(folder):
        if image.suffix.lower() == ".png" and _channels(image) == 4:
            found.append(ForegroundSource(image.stem, image, None))
    if not found:
        raise MissingInputError(
            f"{folder}: no foregrounds (images/<name> + alphas/<name>, or RGBA PNGs)"
        )
    return found


def _channels(path: Path) -> int:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return 1 if img is None or img.ndim == 2 else img.shape[2]


def find_backgrounds(folder: str | Path) -> list[Background]:
    """Stills and frame sequences in ``folder`` (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInputError(f"background folder not found: {folder}")
    found = [Background(f"{folder.name}/{p.stem}", (p,)) for p in _images(folder)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        frames = _images(sub / "frames") or _images(sub)
        if frames:
            found.append(Background(f"{folder.name}/{sub.name}", tuple(frames)))
    if not found:
        raise MissingInputError(f"{folder}: no background images or frame folders")
    return found


def procedural_backgrounds(seed: int, count: int) -> list[Background]:
    return [Background(f"procedural{i:03d}", procedural=seed * 100003 + i) for i in range(count)]


def _resize_long(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    if abs(s - 1.0) < 1e-6:
        return img
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


@lru_cache(maxsize=64)
def load_foreground(source: ForegroundSource, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour HxWx3, alpha HxW) float32, at ``long_side`` pixels, cropped to the alpha's box."""
    frame = read_image(source.image, f"foreground {source.name}")
    if source.alpha is None:
        alpha = frame.pixels[..., 3]
        colour = frame.pixels[..., :3]
    else:
        a = read_image(source.alpha, f"alpha of foreground {source.name}").pixels
        alpha = a[..., 0]
        colour = frame.rgb()
        if alpha.shape != colour.shape[:2]:
            raise InvalidInputError(
                f"{source.alpha} is {alpha.shape[1]}x{alpha.shape[0]} but {source.image} is "
                f"{colour.shape[1]}x{colour.shape[0]}; an alpha must match its image"
            )
    colour = np.clip(colour, 0, 1).astype(np.float32)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    ys, xs = np.nonzero(alpha > ALPHA_FLOOR)
    if not len(ys):
        raise InvalidInputError(f"{source.alpha or source.image}: alpha is empty")
    colour = colour[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    colour, alpha = _resize_long(colour, long_side), _resize_long(alpha, long_side)
    if source.colour is not None:
        given = read_image(source.colour, f"foreground colour {source.name}").rgb()
        given = given[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        colour = _resize_long(np.clip(given, 0, 1).astype(np.float32), long_side)
    elif source.alpha is not None:
        colour = estimate_foreground(colour, alpha)
    return np.ascontiguousarray(colour), np.ascontiguousarray(alpha)


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colour from a composite and its alpha (pymatting, multi-level)."""
    from pymatting import estimate_foreground_ml

    with contextlib.redirect_stdout(io.StringIO()):
        fg = estimate_foreground_ml(image.astype(np.float64), alpha.astype(np.float64))
    return np.clip(fg, 0, 1).astype(np.float32)


def procedural_texture(seed: int, width: int, height: int) -> np.ndarray:
    """A textured sRGB background: octave value noise in a palette, plus blocks and stripes."""
    rng = np.random.default_rng(seed)
    noise = np.zeros((height, width), np.float32)
    amp = 1.0
    for octave in range(5):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells, max(2, cells * width // height))).astype(np.float32)
        noise += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amp *= 0.55
    noise = (noise - noise.min()) / max(1e-6, float(np.ptp(noise)))
    palette = rng.random((3, 3)).astype(np.float32)
    t = noise[..., None]
    img = palette[0] * (1 - t) ** 2 + palette[1] * 2 * t * (1 - t) + palette[2] * t**2
    for _ in range(int(rng.integers(4, 14))):  # window- and sign-like blocks with sharp edges
        w, h = (rng.uniform(0.03, 0.25, 2) * (width, height)).astype(int) + 2
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        img[y : y + h, x : x + w] = rng.random(3) * rng.uniform(0.6, 1.0)
    if rng.random() < 0.5:  # stripes (railings, blinds)
        period = int(rng.integers(6, 40))
        stripes = ((np.arange(width) // period) % 2).astype(np.float32)
        img = img * (1 - 0.25 * stripes[None, :, None])
    img += rng.normal(0, 0.015, img.shape).astype(np.float32)  # sensor-like grain
    return np.clip(img, 0, 1).astype(np.float32)


@lru_cache(maxsize=256)
def _read_background(path: Path) -> np.ndarray:
    return np.clip(read_image(path, "background").rgb(), 0, 1).astype(np.float32)


def background_frame(
    bg: Background, index: int, width: int, height: int, pan: tuple[float, float]
) -> np.ndarray:
    """Frame ``index`` of a background, covering width x height; ``pan`` (0..1, 0..1) picks
    the crop window, so a still pans like a moving camera."""
    if bg.procedural is not None:
        big = procedural_texture(bg.procedural, int(width * 1.4), int(height * 1.4))
    else:
        big = _read_background(bg.frames[index % len(bg.frames)])
    h, w = big.shape[:2]
    s = max(width / w, height / h) * 1.15  # room to pan
    size = (max(width, int(round(w * s))), max(height, int(round(h * s))))
    big = cv2.resize(big, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x0 = int(round((size[0] - width) * float(np.clip(pan[0], 0, 1))))
    y0 = int(round((size[1] - height) * float(np.clip(pan[1], 0, 1))))
    return np.ascontiguousarray(big[y0 : y0 + height, x0 : x0 + width])
