"""The built-in demo shot, generated on the spot so the first command needs no download.

A short scene-linear float EXR sequence (1920x1080 by default) of two overlapping figures with
fine soft edges (hair strands, motion-softened outlines) over a textured background with values
above 1, plus rough per-figure masks of the kind a segmenter exports (blocky, dilated) and the
true alphas for checking. Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.io.images import Window, write_exr

SUPERSAMPLE = 3


@dataclass(frozen=True)
class DemoShot:
    folder: Path
    plate: str
    masks: dict[str, str]
    truth: dict[str, str]
    frames: list[int]


def _figure_alpha(
    h: int, w: int, cx: float, cy: float, scale: float, rng: np.random.Generator, hair: int
) -> np.ndarray:
    """A person-like silhouette (head, neck, shoulders, torso) with hair strands, soft edges."""
    s = SUPERSAMPLE
    canvas = np.zeros((h * s, w * s), np.uint8)
    c = lambda x, y: (int((cx + x * scale) * s), int((cy + y * scale) * s))  # noqa: E731
    r = lambda v: max(1, int(v * scale * s))  # noqa: E731
    cv2.ellipse(canvas, c(0, -170), (r(62), r(80)), 0, 0, 360, 255, -1, cv2.LINE_AA)  # head
    cv2.rectangle(canvas, c(-25, -110), c(25, -60), 255, -1, cv2.LINE_AA)  # neck
    cv2.ellipse(canvas, c(0, 60), (r(150), r(140)), 0, 180, 360, 255, -1, cv2.LINE_AA)  # shoulders
    cv2.rectangle(canvas, c(-150, 60), c(150, 600), 255, -1, cv2.LINE_AA)  # torso
    strands = np.zeros_like(canvas)
    for _ in range(hair):  # hair: thin curved strands leaving the top of the head
        angle = rng.uniform(-2.6, -0.5)
        length = rng.uniform(60, 150)
        bend = rng.uniform(-0.6, 0.6)
        pts = []
        for t in np.linspace(0, 1, 12):
            a = angle + bend * t
            rad = 70 + length * t
            pts.append(c(np.cos(a) * rad * 0.9, -175 + np.sin(a) * rad))
        cv2.polylines(
            strands, [np.array(pts, np.int32)], False, int(rng.uniform(110, 255)), 1, cv2.LINE_AA
        )
    canvas = np.maximum(canvas, strands)
    small = cv2.resize(canvas.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0.0, 1.0)


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Scene-linear background: a sky gradient above 1, a textured wall, blurred noise."""
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    y, x = np.broadcast_arrays(y, x)
    sky = np.stack([1.6 - y, 1.9 - y, 2.4 - y * 1.2], -1) * (y < 0.35)[..., None]
    wall = np.stack([0.25 + 0.1 * x, 0.2 + 0 * x, 0.15 + 0.05 * y], -1) * (y >= 0.35)[..., None]
    noise = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3) - 0.5
    return np.clip(sky + wall + 0.12 * noise, 0, None).astype(np.float32)


def _rough_mask(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a segmenter gives: thresholded, blocky at 1/8 scale, dilated by a few pixels."""
    h, w = alpha.shape
    hard = (alpha > 0.5).astype(np.float32)
    small = cv2.resize(hard, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
    blocky = cv2.resize((small > 0.5).astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    k = int(rng.integers(3, 7))
    return cv2.dilate(blocky, np.ones((2 * k + 1, 2 * k + 1), np.uint8))


def make_demo_shot(
    folder: str | Path,
    frames: int = 6,
    width: int = 1920,
    height: int = 1080,
    first_frame: int = 1001,
    seed: int = 7,
) -> DemoShot:
    """Write the demo plate, masks and true alphas under ``folder`` and describe them."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    background = _background(height, width, rng)
    k = width / 1920.0
    colours = [np.array([0.55, 0.12, 0.08], np.float32), np.array([0.08, 0.16, 0.5], np.float32)]
    skin = np.array([0.6, 0.38, 0.28], np.float32)
    names = ["person01", "person02"]
    window = Window(0, 0, width, height)
    for i in range(frames):
        frame = first_frame + i
        # The same hair on every frame (fixed seeds): each figure is one person moving.
        a1 = _figure_alpha(
            height,
            width,
            (760 + 14 * i) * k,
            430 * k,
            1.05 * k,
            np.random.default_rng(seed + 1),
            hair=90,
        )
        a2 = _figure_alpha(
            height,
            width,
            (1010 - 10 * i) * k,
            470 * k,
            1.0 * k,
            np.random.default_rng(seed + 2),
            hair=70,
        )
        ys = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        f1 = np.where(ys < 0.33, skin, colours[0]) * (0.8 + 0.4 * ys)
        f2 = np.where(ys < 0.36, skin * 0.9, colours[1]) * (0.8 + 0.4 * ys)
        visible1 = a1 * (1 - a2)  # person02 stands in front
        plate = a2[..., None] * f2 + (1 - a2[..., None]) * (
            a1[..., None] * f1 + (1 - a1[..., None]) * background
        )
        write_exr(
            folder / "plate" / f"plate.{frame:04d}.exr",
            {"R": plate[..., 0], "G": plate[..., 1], "B": plate[..., 2]},
            window,
            window,
            extra_attributes={"oiio:ColorSpace": "lin_rec709_scene"},
            compression="zip",
            pixel_type="half",
        )
        for name, alpha in zip(names, (visible1, a2), strict=True):
            (folder / "masks").mkdir(parents=True, exist_ok=True)
            (folder / "truth").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(
                str(folder / "masks" / f"{name}.{frame:04d}.png"),
                (_rough_mask(alpha, rng) * 255).astype(np.uint8),
            )
            cv2.imwrite(
                str(folder / "truth" / f"{name}.{frame:04d}.png"),
                np.rint(alpha * 65535).astype(np.uint16),
            )
    return DemoShot(
        folder=folder,
        plate=str(folder / "plate" / "plate.####.exr"),
        masks={n: str(folder / "masks" / f"{n}.####.png") for n in names},
        truth={n: str(folder / "truth" / f"{n}.####.png") for n in names},
        frames=list(range(first_frame, first_frame + frames)),
    )
