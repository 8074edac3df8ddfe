"""Scale, placement and motion of instances, and the composite (in sRGB, like the dev-sets).

An instance is a foreground (colour, alpha) with a pose per frame: centre, height on the
canvas, rotation, and a smooth non-rigid warp. Layers are composited back to front with
I = a F + (1 - a) I in display-referred sRGB, the encoding the dev-sets were built in (their
multi composites fit that model exactly, not a linear-light one). The truth for an instance is
its visible alpha after occlusion: a_i times (1 - a_j) for every layer j in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Pose:
    cx: float  # centre, pixels
    cy: float
    height: float  # the foreground's height on the canvas, pixels
    angle: float  # degrees, counter-clockwise
    warp_phase: float = 0.0  # advances the non-rigid warp over a clip


@dataclass(frozen=True)
class Track:
    """A pose at the clip's start and end (linear in between, eased) and a warp field seed."""

    start: Pose
    end: Pose
    warp_amplitude: float  # pixels
    warp_seed: int

    def at(self, t: float) -> Pose:
        e = 0.5 - 0.5 * np.cos(np.pi * float(np.clip(t, 0, 1)))  # ease in and out
        a, b = self.start, self.end
        return Pose(
            cx=a.cx + (b.cx - a.cx) * e,
            cy=a.cy + (b.cy - a.cy) * e,
            height=a.height + (b.height - a.height) * e,
            angle=a.angle + (b.angle - a.angle) * e,
            warp_phase=2 * np.pi * t,
        )


def _warp_field(seed: int, width: int, height: int, amplitude: float, phase: float):
    """A smooth displacement field (4x4 random control grid, bicubic), breathing with phase."""
    rng = np.random.default_rng(seed)
    grids = rng.normal(0, 1, (2, 2, 4, 4)).astype(np.float32)  # (dx|dy, base|moving, 4, 4)
    field = []
    for k in range(2):
        g = grids[k, 0] * np.cos(phase) + grids[k, 1] * np.sin(phase)
        field.append(cv2.resize(g, (width, height), interpolation=cv2.INTER_CUBIC) * amplitude)
    return field


def render(
    colour: np.ndarray,
    alpha: np.ndarray,
    pose: Pose,
    width: int,
    height: int,
    warp_amplitude: float = 0.0,
    warp_seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The foreground placed on a width x height canvas: (colour HxWx3, alpha HxW)."""
    h, w = alpha.shape
    s = pose.height / h
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    col = cv2.resize(colour, size, interpolation=interp)
    alp = cv2.resize(alpha, size, interpolation=interp)
    m = cv2.getRotationMatrix2D((size[0] / 2.0, size[1] / 2.0), pose.angle, 1.0)
    m[0, 2] += pose.cx - size[0] / 2.0
    m[1, 2] += pose.cy - size[1] / 2.0
    flags = cv2.INTER_LINEAR
    col = cv2.warpAffine(col, m, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alp = cv2.warpAffine(alp, m, (width, height), flags=flags, borderValue=0.0)
    if warp_amplitude > 0:
        dx, dy = _warp_field(warp_seed, width, height, warp_amplitude, pose.warp_phase)
        xs, ys = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        mx, my = (xs + dx).astype(np.float32), (ys + dy).astype(np.float32)
        col = cv2.remap(col, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alp = cv2.remap(alp, mx, my, cv2.INTER_LINEAR, borderValue=0.0)
    return col.astype(np.float32), np.clip(alp, 0, 1).astype(np.float32)


def composite(
    background: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Layers back to front over the background: (image, visible alphas (N, H, W))."""
    image = background.astype(np.float32).copy()
    for col, alp in layers:
        a = alp[..., None]
        image = a * col + (1 - a) * image
    visible = np.stack([alp for _, alp in layers]).astype(np.float32)
    for i in range(len(layers)):
        for j in range(i + 1, len(layers)):
            visible[i] *= 1 - layers[j][1]
    return np.clip(image, 0, 1), visible


def spread_poses(
    rng: np.random.Generator, count: int, width: int, height: int, aspect: list[float]
) -> list[Pose]:
    """Poses for ``count`` instances that overlap: centres spread over the middle of the frame,
    heights 45-95% of the canvas (smaller with more instances), small rotations."""
    xs = np.sort(rng.uniform(0.2, 0.8, count))
    poses = []
    shrink = 1.0 if count <= 2 else 0.85
    for i in range(count):
        h = float(rng.uniform(0.45, 0.95) * shrink * height)
        h = min(h, 0.9 * width / max(aspect[i], 1e-3))  # keep wide subjects on the canvas
        poses.append(
            Pose(
                cx=float(xs[i] * width),
                cy=float(rng.uniform(0.45, 0.65) * height),
                height=h,
                angle=float(rng.uniform(-8, 8)),
            )
        )
    return poses
