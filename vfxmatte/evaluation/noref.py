"""No-reference checks of a matte: what can be said about an alpha with no ground truth.

Two measures, per frame and per instance, both alpha mass (sum of alpha / 1000, as SAD) so they
read on the same scale as the truth-based metrics:

- **detached**: alpha not connected to the person's solid core. The core is the connected
  regions of alpha >= ``core_level`` that overlap the rough mask (or, with no mask, the largest
  one); every 8-connected region of alpha > ``floor`` that touches no core pixel is a ghost (the
  grey window patches beside a head). A clean matte scores 0.
- **background-like**: soft alpha (between ``floor`` and ``core_level``) on pixels whose colour
  is explained by the local background. The
  background model at a pixel is the Gaussian-weighted mean colour (normalised convolution) of
  pixels outside every instance's dilated alpha; where such pixels are near (within BG_REACH
  sigmas) and the image's colour is within ``tolerance`` of that mean, I = a F + (1 - a) B
  says a must be ~0, so any alpha there is unexplained. True soft edges differ from the
  background by a |F - B| and are not counted unless the alpha is small. Opaque ghosts are left
  to the detached measure; on busy texture the mean blurs detail, so the measure misses more
  than it over-counts there.

These are pure functions on arrays; ``noref_frame`` applies both to every instance of a frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

CORE_LEVEL = 0.95
FLOOR = 0.05
BG_SIGMA_FRACTION = 0.03  # Gaussian sigma of the local background model, of the long side
BG_GAP_FRACTION = 0.01  # background samples stay this far from any alpha
BG_REACH = 3.0  # evaluate pixels within this many sigmas of a background sample
TOLERANCE = 0.06  # sRGB distance (Euclidean over RGB) counted as "the background colour"
BLUR_SIGMA_PX = 8.0  # wide blurs run on a copy downscaled so that sigma is this many pixels


def solid_core(
    alpha: np.ndarray, mask: np.ndarray | None = None, level: float = CORE_LEVEL
) -> np.ndarray:
    """Boolean core: regions of alpha >= level overlapping ``mask`` (else the largest region)."""
    solid = (alpha >= level).astype(np.uint8)
    count, labels = cv2.connectedComponents(solid, connectivity=8)
    if count <= 1:
        return np.zeros(alpha.shape, bool)
    if mask is not None and (mask >= 0.5).any():
        keep = np.unique(labels[(mask >= 0.5) & (solid > 0)])
        keep = keep[keep > 0]
    else:
        sizes = np.bincount(labels.ravel())[1:]
        keep = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(labels, keep)


def detached_mask(alpha: np.ndarray, core: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """Pixels of alpha > floor in regions that touch no core pixel."""
    present = (alpha > floor).astype(np.uint8)
    count, labels = cv2.connectedComponents(present, connectivity=8)
    attached = np.unique(labels[core & (present > 0)])
    return (labels > 0) & ~np.isin(labels, attached)


def detached_alpha(alpha: np.ndarray, core: np.ndarray, floor: float = FLOOR) -> float:
    """Alpha mass (sum / 1000) not connected to the core."""
    return float(alpha[detached_mask(alpha, core, floor)].sum() / 1000.0)


def _blur(values: np.ndarray, sigma: float, scale: float) -> np.ndarray:
    """Gaussian blur of ``values`` computed at ``scale`` (<= 1) and resized back: a wide blur of
    a 4K frame costs what a small one does, and the model is smooth at that width anyway."""
    h, w = values.shape[:2]
    if scale >= 1:
        return cv2.GaussianBlur(values, (0, 0), sigma)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    small = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma * scale)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def local_background(
    image: np.ndarray, occupied: np.ndarray, sigma: float, gap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(mean colour HxWx3, distance to the nearest sample HxW) of the background samples: the
    pixels at least ``gap`` away from ``occupied``."""
    if gap > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1))
        occupied = cv2.dilate(occupied.astype(np.uint8), kernel) > 0
    free = (~occupied).astype(np.float32)
    scale = min(1.0, BLUR_SIGMA_PX / max(sigma, 1e-6))
    density = _blur(free, sigma, scale)
    weighted = _blur(image.astype(np.float32) * free[..., None], sigma, scale)
    mean = weighted / np.maximum(density, 1e-12)[..., None]
    if not free.any():
        return mean, np.full(free.shape, np.inf, np.float32)
    return mean, cv2.distanceTransform(occupied.astype(np.uint8), cv2.DIST_L2, 3)


def background_like_mask(
    image: np.ndarray,
    alpha: np.ndarray,
    occupied: np.ndarray | None = None,
    floor: float = FLOOR,
    tolerance: float = TOLERANCE,
) -> np.ndarray:
    """Soft alpha (floor < a < CORE_LEVEL) near background samples, in the background colour."""
    long_side = max(alpha.shape)
    occupied = alpha > floor if occupied is None else occupied | (alpha > floor)
    sigma = BG_SIGMA_FRACTION * long_side
    mean, reach = local_background(
        image, occupied, sigma, gap=max(1, int(round(BG_GAP_FRACTION * long_side)))
    )
    distance = np.linalg.norm(image.astype(np.float32) - mean, axis=-1)
    soft = (alpha > floor) & (alpha < CORE_LEVEL)
    return soft & (reach <= BG_REACH * sigma) & (distance < tolerance)


def background_like_alpha(
    image: np.ndarray,
    alpha: np.ndarray,
    occupied: np.ndarray | None = None,
    floor: float = FLOOR,
    tolerance: float = TOLERANCE,
) -> float:
    """Alpha mass (sum / 1000) on pixels whose colour the local background explains."""
    where = background_like_mask(image, alpha, occupied, floor, tolerance)
    return float(alpha[where].sum() / 1000.0)


def noref_frame(
    image: np.ndarray,
    alphas: np.ndarray,
    masks: Sequence[np.ndarray | None] | np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Both measures for every instance of one frame (image sRGB HxWx3, alphas (N, H, W));
    ``masks`` per instance (None where a frame has no rough mask for that person).

    The background model excludes every instance's alpha, so one person is never part of
    another's background."""
    union = (alphas > FLOOR).any(0)
    out = []
    for i, alpha in enumerate(alphas):
        core = solid_core(alpha, None if masks is None else masks[i])
        out.append(
            {
                "detached": detached_alpha(alpha, core),
                "background_like": background_like_alpha(image, alpha, union),
                "mass": float(alpha.sum() / 1000.0),
            }
        )
    return out
