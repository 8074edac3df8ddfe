"""What the viewer shows, as plain uint8 RGB arrays (Qt only wraps them in a pixmap).

Kept out of the window so every view mode is testable without a display: coloured per-person
overlays on the plate, one alpha over a checkerboard / grey / black, and an A/B wipe.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np

from vfxmatte.preview import PALETTE
from vfxmatte.review.model import FrameImages


class ViewMode(StrEnum):
    OVERLAY = "overlay"  # plate with every person (or the chosen one) tinted in their colour
    ALPHA = "alpha"  # the chosen person's alpha over a background (plate-free judgement)
    PLATE = "plate"  # the plate alone


class Background(StrEnum):
    CHECKER = "checker"
    GREY = "grey"
    BLACK = "black"


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """(H, W) float checkerboard of 0.35/0.65 grey: shows semi-transparent pixels at a glance."""
    ys = (np.arange(height) // cell)[:, None]
    xs = (np.arange(width) // cell)[None, :]
    return np.where((ys + xs) % 2 == 0, 0.35, 0.65).astype(np.float32)


def background(kind: Background, height: int, width: int, cell: int = 16) -> np.ndarray:
    if kind == Background.CHECKER:
        return checkerboard(height, width, cell)
    value = 0.18 if kind == Background.GREY else 0.0
    return np.full((height, width), value, np.float32)


def person_colour(index: int) -> np.ndarray:
    return PALETTE[index % len(PALETTE)]


Look = Callable[[np.ndarray], np.ndarray]  # (h, w, 3) scene-linear -> display [0, 1]


def render(
    images: FrameImages,
    mode: ViewMode,
    person: int | None,
    bg: Background = Background.CHECKER,
    strength: float = 0.55,
    look: Look | None = None,
    channel: str | None = None,
) -> np.ndarray:
    """One view of one frame as (h, w, 3) uint8 RGB. ``person`` None means everyone.

    ``look`` turns the scene-linear plate into display pixels (exposure, OCIO display/view,
    gamma); without it the sRGB proxy is shown. ``channel`` "R"/"G"/"B" shows that channel of
    the view as grey, "A" the chosen person's alpha (everyone's union when none is chosen).
    """
    if channel == "A":
        mode = ViewMode.ALPHA
    image = _render(images, mode, person, bg, strength, look)
    if channel in ("R", "G", "B"):
        grey = image[..., "RGB".index(channel)]
        image = np.repeat(grey[..., None], 3, axis=-1)
    return image


def _render(
    images: FrameImages,
    mode: ViewMode,
    person: int | None,
    bg: Background,
    strength: float,
    look: Look | None,
) -> np.ndarray:
    alphas = images.alphas.astype(np.float32)
    n, h, w = alphas.shape
    if mode == ViewMode.ALPHA:
        a = alphas[person] if person is not None else np.clip(alphas.sum(0), 0, 1)
        back = background(bg, h, w, max(4, int(round(16 / images.scale))))
        # White alpha over the background, as a comp viewer shows it.
        grey = back * (1 - a) + a
        out = np.repeat(grey[..., None], 3, axis=-1)
        return _to_u8(out)
    if look is not None and images.plate_linear is not None:
        plate = look(images.plate_linear)
    elif images.plate is not None:
        plate = images.plate.astype(np.float32) / 255.0
    else:
        plate = np.repeat(background(bg, h, w)[..., None], 3, axis=-1)
    if mode == ViewMode.PLATE:
        return _to_u8(plate)
    out = plate.copy()
    chosen = range(n) if person is None else [person]
    for i in chosen:
        wgt = (strength * alphas[i])[..., None]
        out = out * (1 - wgt) + person_colour(i) * wgt
    return _to_u8(out)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def wipe(
    a: np.ndarray, b: np.ndarray, position: float, labels: tuple[str, str] | None = None
) -> np.ndarray:
    """A left of ``position`` (0..1 of the width), B right of it, with a 2-pixel divider line.

    B is resized to A's size when the two results differ in resolution (e.g. a half-res re-run).
    """
    h, w = a.shape[:2]
    if b.shape[:2] != (h, w):
        import cv2

        b = cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA)
    x = int(round(np.clip(position, 0.0, 1.0) * w))
    out = a.copy()
    out[:, x:] = b[:, x:]
    out[:, max(0, x - 1) : min(w, x + 1)] = (255, 220, 0)
    if labels:
        _text(out, labels[0], (6, 6), right=False)
        _text(out, labels[1], (w - 6, 6), right=True)
    return out


def _text(img: np.ndarray, text: str, corner: tuple[int, int], right: bool) -> None:
    """Small outlined label (A / B side names) that reads on any plate."""
    import cv2

    scale = max(0.35, img.shape[1] / 1400)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = corner[0] - tw if right else corner[0]
    y = corner[1] + th
    for colour, thick in (((0, 0, 0), 3), ((255, 220, 0), 1)):
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
