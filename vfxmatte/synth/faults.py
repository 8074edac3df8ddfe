"""Rough masks with the faults real ones have, drawn from an instance's visible alpha.

Each fault has a strength s in [0, 1] (see :class:`~vfxmatte.synth.recipe.FaultStrengths`): it
is applied with probability s and its size scales with s, in fractions of the long side. A clip
draws one :class:`MaskFaults` per instance (a segmenter's bias is stable over a shot) and adds
per-frame jitter on top; an ID swap exchanges two instances' masks on one frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vfxmatte.synth.recipe import FaultStrengths

MAX_GROW = 0.015  # of the long side
MAX_OFFSET = 0.015


@dataclass(frozen=True)
class MaskFaults:
    """The faults drawn for one instance (sizes in pixels); recorded in the manifest."""

    threshold: float = 0.5
    grow_px: float = 0.0  # > 0 dilate, < 0 erode
    offset_px: tuple[float, float] = (0.0, 0.0)
    blobby_factor: int = 0  # 0 off, else the downscale factor of the SAM-like mask
    fill_holes: bool = False
    missed_limb_radius: float = 0.0  # pixels; 0 off
    limb_pick: float = 0.0  # which extremity (0..1 over the farthest points)
    jitter_px: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def draw_faults(rng: np.random.Generator, s: FaultStrengths, long_side: int) -> MaskFaults:
    """One instance's faults; every draw is made, so streams never shift with strengths."""
    u = rng.random(8)
    grow = (rng.uniform(-1, 1) * s.grow * MAX_GROW * long_side) if u[0] < s.grow else 0.0
    angle = rng.uniform(0, 2 * np.pi)
    mag = rng.uniform(0.3, 1.0) * s.offset * MAX_OFFSET * long_side if u[1] < s.offset else 0.0
    blobby = int(rng.choice([4, 8, 16])) if u[2] < s.blobby else 0
    limb = (
        rng.uniform(0.04, 0.08) * long_side * (0.5 + s.missed_limb) if u[4] < s.missed_limb else 0
    )
    return MaskFaults(
        threshold=float(rng.uniform(0.25, 0.75)),
        grow_px=float(grow),
        offset_px=(float(mag * np.cos(angle)), float(mag * np.sin(angle))),
        blobby_factor=blobby,
        fill_holes=bool(u[3] < s.fill_holes),
        missed_limb_radius=float(limb),
        limb_pick=float(rng.random()),
        jitter_px=float(s.jitter * 0.004 * long_side),
    )


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def grow(mask: np.ndarray, px: float) -> np.ndarray:
    r = int(round(abs(px)))
    if r == 0:
        return mask
    op = cv2.dilate if px > 0 else cv2.erode
    return op(mask, _disk(r), borderType=cv2.BORDER_CONSTANT, borderValue=0)


def shift(mask: np.ndarray, dx: float, dy: float) -> np.ndarray:
    if abs(dx) < 0.5 and abs(dy) < 0.5:
        return mask
    m = np.float32([[1, 0, round(dx)], [0, 1, round(dy)]])
    return cv2.warpAffine(mask, m, mask.shape[::-1], flags=cv2.INTER_NEAREST, borderValue=0)


def blobby(mask: np.ndarray, factor: int) -> np.ndarray:
    """Low resolution and rounded, as a segmenter's coarse logits upsampled."""
    h, w = mask.shape
    small = cv2.resize(
        mask.astype(np.float32), (max(1, w // factor), max(1, h // factor)), cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), 0.8)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return (up >= 0.5).astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill every region of background not connected to the image border."""
    padded = np.pad(mask, 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return (mask | (flood[1:-1, 1:-1] == 0)).astype(np.uint8)


def cut_limb(mask: np.ndarray, radius: float, pick: float) -> np.ndarray:
    """Erase a disk at one of the mask's extremities (points farthest from its centroid)."""
    ys, xs = np.nonzero(mask)
    if radius < 1 or len(ys) < 50:
        return mask
    d = np.hypot(ys - ys.mean(), xs - xs.mean())
    far = np.argsort(d)[-max(1, len(d) // 50) :]  # the farthest 2%
    k = far[min(len(far) - 1, int(pick * len(far)))]
    out = mask.copy()
    cv2.circle(out, (int(xs[k]), int(ys[k])), int(round(radius)), 0, -1)
    return out


def rough_mask(
    alpha: np.ndarray, f: MaskFaults, rng: np.random.Generator | None = None
) -> np.ndarray:
    """uint8 0/1 rough mask of a visible alpha with faults ``f`` (and jitter when rng given)."""
    m = (alpha >= f.threshold).astype(np.uint8)
    if not m.any():
        return m
    if f.fill_holes:
        m = fill_holes(m)
    if f.blobby_factor:
        m = blobby(m, f.blobby_factor)
    g, (dx, dy) = f.grow_px, f.offset_px
    if rng is not None and f.jitter_px > 0:
        jit = rng.normal(0, f.jitter_px, 3)
        g, dx, dy = g + jit[0], dx + jit[1], dy + jit[2]
    m = grow(m, g)
    m = cut_limb(m, f.missed_limb_radius, f.limb_pick)
    return shift(m, dx, dy)


def swap_frame(rng: np.random.Generator, strength: float, frames: int, instances: int) -> dict:
    """Which frame (if any) has two instances' masks swapped: {} or {frame, a, b}."""
    u, frame = rng.random(), int(rng.integers(1, frames))
    a, b = (int(v) for v in rng.choice(instances, 2, replace=False))
    return {"frame": frame, "a": a, "b": b} if u < strength else {}
