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

# which holes are opened by default: "plate" (only against a clean plate: measured reliable),
# "colour" (also against the colours outside the mask: on synth tune sets it opened a real
# hole, 12.6 -> 8.0 MAD, but also took a look-alike interior, 7.8 -> 54.6: not yet a default)
HOLES_MODE = "plate"
HOLE_MATCH = 2.0  # squared Mahalanobis distance to the outside background that counts as a match
HOLE_MIN_SIDE = 2.0  # smallest hole opened, as a square of this many search bands a side
MIX_K = 6  # colour clusters of the background ring and of the interior
HOLE_SHARE = 0.5  # a 'hole' of more than this share of the interior is a look-alike person
HOLE_APART = 9.0  # a hole is at least this much further (squared) from the fg than the bg
PLATE_TOL = 0.04  # with a clean plate: largest colour difference (RMS over channels) of a hole


def _mixture(x: torch.Tensor, k: int = MIX_K) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A few Gaussians (mean (3,), regularised covariance (3,3)) of colours x (3, N): k-means
    (OpenCV, on at most 20000 samples) then one Gaussian per cluster. A background or a person
    is several colours; one Gaussian of all of them is so wide that it matches nearly anything
    (a synth giraffe matched a ring of a brown teddy, a flower and stripes)."""
    n = x.shape[1]
    pick = torch.linspace(0, n - 1, min(n, 20000)).long()
    data = x[:, pick].T.contiguous().cpu().numpy().astype(np.float32)
    k = max(1, min(k, data.shape[0] // 16))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1e-3)
    cv2.setRNGSeed(0)
    _, labels, _ = cv2.kmeans(data, k, None, crit, 1, cv2.KMEANS_PP_CENTERS)
    labels = torch.from_numpy(labels[:, 0])
    out = []
    eye = 1e-4 * torch.eye(3, dtype=x.dtype, device=x.device)
    for c in range(k):
        xc = x[:, pick[labels == c].to(x.device)]
        if xc.shape[1] < 8:
            continue
        mean = xc.mean(1)
        d = xc - mean[:, None]
        out.append((mean, d @ d.T / (xc.shape[1] - 1) + eye))
    return out


def _distance(x: torch.Tensor, mix: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Squared Mahalanobis distance of colours x (3, N) to the nearest Gaussian of ``mix``."""
    best = torch.full(x.shape[1:], float("inf"), dtype=x.dtype, device=x.device)
    for mean, cov in mix:
        d = x - mean[:, None]
        best = torch.minimum(best, (d * torch.linalg.solve(cov, d)).sum(0))
    return best


def find_holes(
    image: torch.Tensor,
    mask: torch.Tensor,
    search: int,
    background: torch.Tensor | None = None,
    others: torch.Tensor | None = None,
    match: float = HOLE_MATCH,
    min_side: float = HOLE_MIN_SIDE,
    apart: float = HOLE_APART,
) -> torch.Tensor:
    """(H,W) {0,1}: pixels more than ``search`` px inside ``mask`` that show the background.

    Without a plate, the background is a few Gaussians of the ring ``search``..``3 search`` px
    outside the mask (``others``, other people's masks, left out), and the foreground a few
    of the deep interior *minus* the pixels that match the background (else the holes
    themselves widen it). Holes covering more than ``HOLE_SHARE`` of the interior are not
    trusted (a person dressed like the background). A hole pixel is within
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
        if others is not None:
            ring = ring & (others < 0.5)  # another person is not this one's background
        if int(ring.sum()) < 64:
            return torch.zeros_like(m)
        qb = _distance(x, _mixture(img[:, ring]))
        like_bg = qb < match
        # the foreground's colours leave out anything near the background, not only the strict
        # matches: else the hole's own noisier pixels form a foreground cluster of its colour
        fg = x[:, qb > 8 * match]
        if fg.shape[1] < 64:
            return torch.zeros_like(m)
        hit = like_bg & (_distance(x, _mixture(fg)) > qb + apart)
    holes = torch.zeros_like(m)
    holes[deep] = hit.float()
    # a strict match takes only part of a real hole's noisy pixels (a 3-colour Gaussian puts
    # 43% of its own samples within 2): close the gaps (2 px) before sizing the parts
    holes = erode(dilate(holes, 2), 2) * deep.float()
    holes = _drop_small(holes, max(4, round((min_side * search) ** 2)))
    if float(holes.sum()) > HOLE_SHARE * float(deep.sum()):
        return torch.zeros_like(m)
    return holes


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
