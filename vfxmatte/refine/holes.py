"""Holes in a rough mask: enclosed regions that show the background, opened in the trimap.

A rough mask of a plant, a tree or an arm on a hip covers the background seen between leaves,
branches or the arm and body. The trimap's band only looks near the mask's edge, so those
regions stayed solid foreground (held-out leafy plant and small tree: SAD 4x the others).
Here each pixel deep inside the mask is compared with the background *outside* the mask (or
with the clean plate): a region that matches it, and is unlike the foreground, is a hole.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vfxmatte.refine.filters import dilate, erode

HOLE_MATCH = 2.0  # squared Mahalanobis distance to the outside background that counts as a match
HOLE_MIN_SIDE = 2.0  # smallest hole opened, as a square of this many search bands a side
HOLE_APART = 9.0  # a hole is at least this much further (squared) from the fg than the bg
PLATE_TOL = 0.04  # with a clean plate: largest colour difference (RMS over channels) of a hole


def _gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and regularised covariance (3,3) of colours x (3, N)."""
    mean = x.mean(1)
    c = x - mean[:, None]
    cov = c @ c.T / max(1, x.shape[1] - 1) + 1e-4 * torch.eye(3, dtype=x.dtype, device=x.device)
    return mean, cov


def _mahalanobis(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    d = x - mean[:, None]
    return (d * torch.linalg.solve(cov, d)).sum(0)


def find_holes(
    image: torch.Tensor,
    mask: torch.Tensor,
    search: int,
    background: torch.Tensor | None = None,
    match: float = HOLE_MATCH,
    min_side: float = HOLE_MIN_SIDE,
    apart: float = HOLE_APART,
) -> torch.Tensor:
    """(H,W) {0,1}: pixels more than ``search`` px inside ``mask`` that show the background.

    Without a plate, the background is one Gaussian of the ring ``search``..``3 search`` px
    outside the mask, and the foreground one Gaussian of the deep interior *minus* the pixels
    that match the background (else the holes themselves widen it). A hole pixel is within
    ``match`` (squared Mahalanobis) of the background and ``apart`` further from the foreground;
    holes smaller than a square of ``min_side`` search bands are dropped (a speck of a
    background colour on a flower or a face is texture, not a view through it). With a ``background``
    plate, a hole pixel differs from the plate by less than ``PLATE_TOL``.
    """
    m = (mask > 0.5).float()
    deep = erode(m, search) > 0.5
    if not bool(deep.any()):
        return torch.zeros_like(m)
    img = image.float()
    x = img[:, deep]
    if background is not None:
        diff = (x - background.float()[:, deep]).pow(2).mean(0).sqrt()
        hit = diff < PLATE_TOL
    else:
        ring = (dilate(m, 3 * search) > 0.5) & (dilate(m, search) < 0.5)
        if int(ring.sum()) < 32:
            return torch.zeros_like(m)
        bmean, bcov = _gaussian(img[:, ring])
        qb = _mahalanobis(x, bmean, bcov)
        like_bg = qb < match
        fg = x[:, ~like_bg]
        if fg.shape[1] < 32:
            return torch.zeros_like(m)
        fmean, fcov = _gaussian(fg)
        hit = like_bg & (_mahalanobis(x, fmean, fcov) > qb + apart)
    holes = torch.zeros_like(m)
    holes[deep] = hit.float()
    # a strict match takes only part of a real hole's noisy pixels (a 3-colour Gaussian puts
    # 43% of its own samples within 2): close the gaps (2 px) before sizing the parts
    holes = erode(dilate(holes, 2), 2) * deep.float()
    return _drop_small(holes, max(4, round((min_side * search) ** 2)))


def _drop_small(region: torch.Tensor, min_px: int) -> torch.Tensor:
    """``region`` without its connected parts smaller than ``min_px`` pixels (OpenCV, CPU)."""
    r = (region > 0.5).cpu().numpy().astype(np.uint8)
    if not r.any():
        return region
    count, labels, stats, _ = cv2.connectedComponentsWithStats(r, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_px
    keep[0] = False
    return torch.from_numpy(keep[labels]).to(region.device, region.dtype)


def open_holes(trimap: torch.Tensor, holes: torch.Tensor, margin: int) -> torch.Tensor:
    """``trimap`` with each hole background and a ``margin`` px unknown rim around it, so the
    solve finds the soft edge of the leaves or the arm around it."""
    if not bool(holes.any()):
        return trimap
    rim = dilate(holes, margin) > 0.5
    inner = erode(holes, margin) > 0.5
    out = trimap.clone()
    out[rim] = 0.5
    out[inner] = 0.0
    return out
