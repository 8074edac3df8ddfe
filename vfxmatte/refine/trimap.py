"""Trimaps from rough masks that follow the image, not only the mask.

A rough mask (segmenter output, blocky, dilated or eroded by several pixels) is wrong by more
than any band a solver can afford, and a fixed band both misses the real edge where the mask is
far off and wastes the solve where it is right. So:

1. a wide *search band* around the mask edge (width from image size) bounds where the edge can be;
   its inside (the eroded mask) and outside give foreground and background colour samples;
2. *local colour models* (Gaussians of those samples in large windows, computed with box sums)
   classify each band pixel as surely foreground, surely background, or mixed/ambiguous;
3. the unknown region is what stays ambiguous, grown by a margin that is wider where the image is
   textured (hair) so the solver gets room for soft edges;
4. a *reach ring* (``reach`` px outside the mask) where the unknown region follows strands that
   run past the search band: textured, sparse, foreground-like pixels connected to the band
   (see ``_reach_ring``; this is what wins on hair, docs/benchmarks.md).

Everything is a pure tensor function (CPU or CUDA). Trimap convention: 1 fg, 0 bg, 0.5 unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vfxmatte.refine import sym3
from vfxmatte.refine.filters import (
    box_filter,
    box_sum,
    dilate,
    erode,
    sample_at,
    source_positions,
)


def mask_offset(
    image: torch.Tensor,
    mask: torch.Tensor,
    limit: int,
    step: int,
    distinct: float = 2.0,
    ignore: torch.Tensor | None = None,
) -> int:
    """How far (px) the real edge lies outside (> 0) or inside (< 0) ``mask``'s edge, within
    ``limit``: where the mean colour of the ring of pixels at each signed distance from the
    mask's edge changes most (rings ``step`` px apart compared).

    Why ring means: averaged along the whole edge, texture (a mesh, grass, hair) cancels out
    and what is left is the change from the person's colours to the background's, wherever
    the mask put its edge. A gradient profile peaks inside see-through or textured objects
    instead (measured on single/: GT25's mesh sent it 22 px inwards). The signed distance is
    Euclidean (OpenCV's distance transform, on the CPU). The answer is 0 unless the largest
    change is ``distinct`` times the median one: texture parallel to the edge (stripes, a
    fence) changes the ring means everywhere and says nothing about where the edge is
    (measured: the dev-sets with their masks moved 12-20 px, 2.4-37; stripes 1.0).
    Pixels of ``ignore`` (other people's masks) are left out of every ring: another person
    is not this one's background, and their edge is not this one's; an edge that runs mostly
    along other people gives 0.
    """
    m = (mask > 0.5).cpu().numpy().astype(np.uint8)
    if not m.any() or m.all():
        return 0
    # only the mask's bounding box grown by the range matters
    rows, cols = np.nonzero(m.any(1))[0], np.nonzero(m.any(0))[0]
    pad = limit + step + 1
    y0, y1 = max(0, rows[0] - pad), min(m.shape[0], rows[-1] + 1 + pad)
    x0, x1 = max(0, cols[0] - pad), min(m.shape[1], cols[-1] + 1 + pad)
    m = m[y0:y1, x0:x1]
    image = image[:, y0:y1, x0:x1]
    skip = None if ignore is None else (ignore[y0:y1, x0:x1] > 0.5).cpu().numpy() & (m == 0)
    if skip is not None and skip.all():
        return 0  # the edge runs along other people only: nothing says where it lies
    outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    signed = np.where(m > 0, 0.5 - inside, outside - 0.5)
    span = limit + step
    bins = np.rint(signed).astype(np.int64)
    near = np.abs(bins) <= span
    reach = None
    if skip is not None:
        rim = (bins >= 1) & (bins <= step)
        if (rim & ~skip).sum() < 0.5 * rim.sum():
            return 0  # the edge runs mostly along other people: nothing says where it lies
        reach = _free_reach(m, bins, skip, step, span)
    index = bins[near] + span
    # sums and counts per ring (rows) and per edge stretch's free reach (columns: reach >= k)
    levels = span + 3
    key = index * levels + (reach[near] if reach is not None else levels - 1)
    colours = image.float().cpu().numpy()[:, near]
    width = (2 * span + 1) * levels
    count = _at_least(np.bincount(key, minlength=width).reshape(-1, levels))
    sums = [_at_least(np.bincount(key, c, width).reshape(-1, levels)) for c in colours]
    # the rings compared for a candidate edge at d (d - step and d + step) are taken from the
    # same edge stretches: those free of other people out to the outer ring
    rows = np.arange(2 * span + 1 - 2 * step)
    free = np.clip(rows + 2 * step - span + 1, 0, levels - 1)
    pair = [(rows, free), (rows + 2 * step, free)]
    n_in, n_out = (count[r, f] for r, f in pair)
    means = [
        np.stack([s[r, f] for s in sums], 1) / np.maximum(n, 1)[:, None]
        for (r, f), n in zip(pair, (n_in, n_out), strict=True)
    ]
    change = np.linalg.norm(means[1] - means[0], axis=1)  # centred at d
    # rings much shorter than the edge itself (deep inside a thin part, or cut by the frame)
    # have noisy means: they are not candidates
    edge = count[span, 0]
    short = np.minimum(n_in, n_out) < 0.25 * edge
    change[short] = -1.0
    best = int(np.argmax(change))
    if change[best] < distinct * np.median(change[change >= 0]):
        return 0
    return best - limit


def _at_least(table: np.ndarray) -> np.ndarray:
    """Column k of the result: the sum of ``table``'s columns k and beyond."""
    return np.cumsum(table[:, ::-1], 1)[:, ::-1]


def _free_reach(m: np.ndarray, bins: np.ndarray, skip: np.ndarray, step: int, span: int):
    """Per pixel, 0..span+2: how far (in rings) the edge stretch the pixel belongs to runs out
    before it meets another person (``skip``), span + 2 when it never does (within span).

    Why: leaving only the other people's pixels out of the rings makes the outer rings a
    different part of the edge than the inner ones (pair02 of dev-sets/multi: only the hair
    side was left beyond the neighbour, and its ring change sent the mask 16 px out where
    the truth is 5 px in). Each pixel belongs to its nearest point of the mask's edge; a
    stretch is cut at the first pixel of another person along it (smoothed over ``step``).
    An ID map's shared border is cut at ring 1: it still counts for edges inside the mask."""
    top = span + 2
    label = cv2.DIST_LABEL_PIXEL
    _, to_mask = cv2.distanceTransformWithLabels(1 - m, cv2.DIST_L2, 5, labelType=label)
    _, to_outside = cv2.distanceTransformWithLabels(m, cv2.DIST_L2, 5, labelType=label)
    # the cut of each edge pixel (a pixel of another person belongs to its nearest mask
    # pixel), then spread along the edge so that a stretch is cut as a whole
    cut = np.full(to_mask.max() + 1, top, np.float32)
    np.minimum.at(cut, to_mask[skip], np.clip(bins[skip], 0, top).astype(np.float32))
    edge = np.where(m > 0, cut[to_mask], top).astype(np.float32)
    edge = cv2.erode(edge, np.ones((2 * step + 1, 2 * step + 1), np.uint8))
    # outside pixels: the cut of their nearest mask pixel; inside ones: that of their
    # nearest outside pixel
    out = np.where(m > 0, edge, edge.ravel()[_labelled_pixel(m > 0, to_mask)])
    out = np.where(m > 0, out.ravel()[_labelled_pixel(m == 0, to_outside)], out)
    return np.clip(np.rint(out), 0, top).astype(np.int64)


def _labelled_pixel(sources: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Flat index of the ``sources`` pixel each pixel's label (from OpenCV's labelled
    distance transform of ``~sources``, DIST_LABEL_PIXEL) names."""
    flat = np.flatnonzero(sources.ravel())
    where = np.zeros(labels.max() + 1, np.int64)
    where[labels.ravel()[flat]] = flat
    return where[labels]


def offset_mask(mask: torch.Tensor, offset: float) -> torch.Tensor:
    """``mask`` grown (``offset`` > 0) or shrunk by ``offset`` px, Euclidean (every point of the
    edge moves the same distance along its normal, unlike a square dilation, which moves
    diagonal stretches 41% further). OpenCV's distance transform, on the CPU.

    Shrinking keeps the parts it would delete: a part thinner than twice the offset (an arm,
    a neck, a person far away) is not a rim of background, so it stays as the mask had it.
    """
    m = (mask > 0.5).cpu().numpy().astype(np.uint8)
    if offset > 0:
        moved = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5) <= offset
        moved |= m > 0
    else:
        moved = cv2.distanceTransform(m, cv2.DIST_L2, 5) > -offset
        if moved.any():
            far = cv2.distanceTransform((~moved).astype(np.uint8), cv2.DIST_L2, 5) > 1 - offset
        else:
            far = np.ones_like(moved)
        moved |= (m > 0) & far
    return torch.from_numpy(moved).to(mask.device, mask.dtype)


def move_mask(mask: torch.Tensor, offset: float, others: torch.Tensor | None) -> torch.Tensor:
    """``mask`` moved by ``offset`` px (:func:`offset_mask`), with other people's masks
    (``others``, {0,1}, or None) kept as they are on both sides of the border.

    Why: the offset is measured on the edge that is free of other people
    (:func:`mask_offset`), so it says nothing about the border with a neighbour. Grown, the
    mask would take the neighbour's body; shrunk, it would leave its side of the border to
    nobody (an ID map, where the person in front lost the overlap to the one behind: the
    strip lost measured alpha 0.84 on the front person's solid body where 0.97 is right).
    """
    moved = offset_mask(mask, offset)
    if others is None:
        return moved
    if offset > 0:
        return moved * torch.maximum(1 - others, mask)
    # kept: this mask's own side of the border, not pixels both masks claim (a grown mask's
    # rim over the neighbour is what a shrink is for)
    border = offset_mask(others * (1 - mask), -offset)
    return torch.maximum(moved, mask * (1 - others) * border)


def band_trimap(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Fixed-band trimap: erode/dilate the binarised mask by ``radius`` (square window)."""
    m = (mask > 0.5).float()
    fg = erode(m, radius)
    maybe = dilate(m, radius)
    return fg + 0.5 * (maybe - fg)


# least alpha of a faint strand the reach ring follows; 0 (off) by default: 0.05 brings the
# demo shot's hair from 2% to 24% of the truth's soft alpha but costs ~1% multi/ MAD
REACH_FAINT = 0.0


@dataclass
class LocalGaussian:
    """Per-pixel mean (3,H,W) and covariance (6,H,W upper entries) of weighted colour samples."""

    mean: torch.Tensor
    cov: torch.Tensor
    weight: torch.Tensor | None  # (H,W) local sample mass (how much the model is supported)


def local_gaussian(
    image: torch.Tensor, weights: torch.Tensor, radius: int, reg: float = 1e-3
) -> LocalGaussian:
    """Gaussian colour model of the pixels in ``weights`` within ``radius`` of each pixel.

    Where a window holds no sample, the model falls back to the global statistics of the
    samples (so a thin structure far from its core still gets a usable model).
    """
    w = weights.float()
    img = image.float()
    n = box_sum(w[None], radius)[0]
    s1 = box_sum(img * w, radius)
    prods = sym3.outer_upper(img, img)
    s2 = box_sum(prods * w, radius)
    total = w.sum().clamp_min(1e-6)
    g1 = (img * w).flatten(1).sum(1) / total
    g2 = (prods * w).flatten(1).sum(1) / total
    # blend towards the global model where the local sample mass is small
    prior = 16.0
    mean = (s1 + prior * g1[:, None, None]) / (n + prior)
    m2 = (s2 + prior * g2[:, None, None]) / (n + prior)
    cov = m2 - sym3.outer_upper(mean, mean) + sym3.identity(reg, m2)
    return LocalGaussian(mean, cov, n)


def _mahalanobis_logdet(x: torch.Tensor, g: LocalGaussian) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared Mahalanobis distance of x (3,H,W) to g, and log-determinant of g's covariance."""
    (A, B, C, D, E, Fm), det = sym3.adjugate(g.cov)
    det = det.clamp_min(1e-12)
    v = x - g.mean
    vx, vy, vz = v
    q = A * vx * vx + D * vy * vy + Fm * vz * vz + 2 * (B * vx * vy + C * vx * vz + E * vy * vz)
    return q / det, det.log()


def _model_at(
    g: LocalGaussian, ys: torch.Tensor, xs: torch.Tensor, size: tuple[int, int]
) -> LocalGaussian:
    """The model ``g`` (fitted on a reduced grid) at full-resolution pixels (ys, xs) of a frame
    of ``size``, as (C, 1, N) planes: equal to upsampling the whole model and indexing it."""
    planes = torch.cat([g.mean, g.cov], 0)
    at = sample_at(planes, *source_positions(ys, xs, planes.shape[-2:], size, planes.dtype))
    return LocalGaussian(at[:3, None], at[3:, None], None)


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    lead = x.shape[:-2]
    kw = {"align_corners": False} if mode == "bilinear" else {}
    y = F.interpolate(x.reshape(1, -1, *x.shape[-2:]), size=size, mode=mode, **kw)
    return y.reshape(*lead, *size)


@dataclass
class TrimapResult:
    """What the solver and the consistency step need from the trimap stage."""

    trimap: torch.Tensor  # (H,W) 1 fg, 0 bg, 0.5 unknown
    fg_core: torch.Tensor  # (H,W) {0,1} the person's solid core (mask-eroded)
    prior: torch.Tensor  # (H,W) colour-model alpha estimate in [0,1] (0 outside the band)
    confidence: torch.Tensor  # (H,W) in [0,1], how far the fg/bg models are apart (band only)


def adaptive_trimap(
    image: torch.Tensor,
    mask: torch.Tensor,
    others: torch.Tensor | None = None,
    search: int = 24,
    model_radius: int | None = None,
    llr_sure: float = 6.0,
    margin: int = 3,
    texture_margin: int = 6,
    work_side: int = 512,
    wide_search: int = 0,
    texture_threshold: float = 0.08,
    background: torch.Tensor | None = None,
    reach: int = 0,
    reach_llr: float = 0.0,
    reach_bridge: int = 2,
    reach_density: float = 0.8,
    reach_texture: float = 0.04,
    reach_faint: float = REACH_FAINT,
    reach_far_share: float = 0.0,
    reach_pattern: float = 0.0,
) -> TrimapResult:
    """Image-driven trimap of one person from their rough mask.

    image (3,H,W) in [0,1]; mask (H,W) rough mask; others (H,W) {0,1}: other people's solid
    cores, always background here. ``search`` is the half-width (px) of the band in which the
    real edge is looked for, ``wide_search`` (if larger) the half-width used along textured
    stretches of the edge (hair: local gradient energy above ``texture_threshold``).
    ``margin``/``texture_margin``: the unknown margin kept around ambiguous pixels in
    smooth/textured areas. ``background`` (3,H,W): a clean plate; when given, the background
    model at each pixel is the plate's colour there (as Background Matting does) with a small
    noise covariance, far sharper than any sampled model. Colour models are fitted at a reduced
    resolution (long side ``work_side``) because they are smooth by construction: their cost
    stays flat at 4K. ``reach`` (> ``search`` turns it on) and the ``reach_*`` gates: the unknown
    region may grow up to ``reach`` px outside the mask along strands (``_reach_ring``);
    ``reach_far_share`` (> 0 turns it on): a strand's colour is rarer than this share among the
    far background nearby (``_far_share``); ``reach_pattern`` (> 0 turns it on): linked strands
    must be denser than this many times the scene's own candidates, and fed by their contact
    with the band (``_person_pattern``, ``_fed_by_contact``).
    """
    h, w = mask.shape
    m = (mask > 0.5).float()
    img = image.float()
    gray = img.mean(0)
    gx = F.pad(gray[:, 1:] - gray[:, :-1], (0, 1))
    gy = F.pad(gray[1:] - gray[:-1], (0, 0, 0, 1))
    energy = box_filter((gx.abs() + gy.abs())[None], 2)[0]
    textured = (energy > texture_threshold).float()
    if wide_search > search:
        # hair-like (textured) stretches of the mask edge get the wide band, smooth ones the
        # narrow band: the edge of a mask is far less reliable where the image is busy
        busy = (box_filter(textured[None], wide_search)[0] > 0.25).float()
        fg_core = erode(m, search) * (1 - busy) + erode(m, wide_search) * busy
        maybe = torch.maximum(dilate(m, search), dilate(m, wide_search) * busy)
    else:
        fg_core = erode(m, search)
        maybe = dilate(m, search)
    # thin parts (an arm, a mostly occluded person) vanish under the erosion and would get no
    # foreground constraint at all (alpha 0): give them a core from a much smaller erosion
    thin_core = erode(m, max(2, search // 4))
    fg_core = torch.maximum(fg_core, thin_core * (1 - dilate(fg_core, 2 * search)))
    bg_sure = 1 - maybe
    if others is not None:
        bg_sure = torch.maximum(bg_sure, others.float())
        fg_core = fg_core * (1 - others.float())
    band = (1 - fg_core) * (1 - bg_sure)

    # colour models on a reduced grid
    scale = min(1.0, work_side / max(h, w))
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    img_s = _resize(image.float(), size)
    fg_s = _resize(fg_core, size)
    bg_s = _resize(bg_sure, size)
    fg_s = (fg_s > 0.99).float()
    bg_s = (bg_s > 0.99).float()
    rad = model_radius or max(4, round(2.5 * search * scale))
    gf = local_gaussian(img_s, fg_s, rad)
    gb = local_gaussian(img_s, bg_s, rad)
    # evaluate the models at full resolution, only on the band's pixels (the models are
    # sampled there bilinearly, as an upsampling of the whole model would give)
    ys, xs = torch.nonzero(band > 0.5, as_tuple=True)
    x_band = img[:, ys, xs][:, None]  # (3, 1, N): a one-row image of the band's pixels
    gf_band = _model_at(gf, ys, xs, (h, w))
    if background is not None:
        noise = torch.tensor([4e-4, 0, 0, 4e-4, 0, 4e-4], device=image.device)[:, None, None]
        gb_band = LocalGaussian(
            background.float()[:, ys, xs][:, None], noise.expand(6, 1, ys.numel()), None
        )
    else:
        gb_band = _model_at(gb, ys, xs, (h, w))
    qf, ldf = _mahalanobis_logdet(x_band, gf_band)
    qb, ldb = _mahalanobis_logdet(x_band, gb_band)
    llr = 0.5 * (qb + ldb) - 0.5 * (qf + ldf)  # > 0: more likely foreground

    # alpha prior: projection on the line between the local means
    diff = gf_band.mean - gb_band.mean
    sep = (diff * diff).sum(0)
    prior = torch.zeros((h, w), device=img.device)
    confidence = torch.zeros((h, w), device=img.device)
    prior[ys, xs] = (((x_band - gb_band.mean) * diff).sum(0) / sep.clamp_min(1e-6)).clamp(0, 1)[0]
    confidence[ys, xs] = (sep / (sep + 0.01)).clamp(0, 1)[0]

    sure_fg = torch.zeros((h, w), device=img.device)
    sure_bg = torch.zeros((h, w), device=img.device)
    sure_fg[ys, xs] = ((llr > llr_sure) & (qf < 9.0)).float()[0]
    sure_bg[ys, xs] = ((llr < -llr_sure) & (qb < 9.0)).float()[0]
    ambiguous = band * (1 - sure_fg) * (1 - sure_bg)
    # texture: local gradient energy, normalised; wide margin in hair-like areas
    unknown = dilate(ambiguous, margin)
    unknown = torch.maximum(unknown, dilate(ambiguous, texture_margin) * textured)
    # an edge between sure fg and sure bg must stay unknown too
    unknown = torch.maximum(unknown, dilate(sure_fg, margin) * dilate(sure_bg, margin))
    unknown = unknown * band
    if reach > search:
        unknown = torch.maximum(
            unknown,
            _reach_ring(
                img_s,
                gf,
                img,
                m,
                others,
                unknown,
                bg_sure + sure_bg,
                energy,
                search,
                reach,
                scale,
                reach_llr,
                reach_bridge,
                reach_density,
                reach_texture,
                margin,
                reach_faint,
                reach_far_share,
                reach_pattern,
            ),
        )
    if others is not None:
        unknown = unknown * (1 - others.float())
    fg = torch.maximum(fg_core, sure_fg) * (1 - unknown)
    trimap = fg + 0.5 * unknown
    return TrimapResult(trimap, fg_core, prior, confidence)


def _reach_ring(
    img_s,
    gf,
    img,
    m,
    others,
    unknown,
    known_bg,
    energy,
    search,
    reach,
    scale,
    llr_min,
    bridge,
    density,
    texture,
    margin,
    faint=0.0,
    far_share=0.0,
    pattern=0.0,
):
    """Unknown pixels beyond the search band, up to ``reach`` px outside the mask.

    Hair, fur and wisps run out of a rough mask further than any band that is safe for the
    rest of the edge (a wider band everywhere costs the smooth edges more than it wins on
    hair: docs/benchmarks.md). So the band reaches out only where the image shows strands:

    - the background model of the search band is polluted by the strands (its samples lie
      right outside the band: strands inside the band can even come out "sure background"),
      so every known-background pixel within ``reach`` is judged against a *far* model
      sampled beyond ``reach`` px: a candidate is more foreground-like than far-background-like
      (log-likelihood ratio above ``llr_min``);
    - strands are thin and textured: a candidate must lie within 2 px of local gradient energy
      above ``texture``, and its neighbourhood (``search // 2``) must hold fewer than
      ``density`` candidates, because a *solid* foreground-coloured region out there is
      another object (a white keyboard behind a silver mesh basket, bokeh of the flower's
      colour), not a fringe;
    - a candidate's colour must be rare (share below ``far_share``, when > 0) among the far
      background around it: one Gaussian cannot describe a background of two colours (a
      window grid: pale wall, dark frames), so the grid's dark lines come out "more like the
      (dark-haired) person" although the far background is full of them; a strand's colour is
      one the background out there does not show (``_far_share``);
    - the unknown region grows through candidates (gaps up to ``bridge`` px closed) only while
      connected to the band's unknown pixels, then gets the usual ``margin``;
    - with ``pattern`` > 0, a piece linked that way is kept only where it is denser than the
      scene's own candidates around it (``_person_pattern``) and holds no more candidates than
      its contact with the band could feed (``_fed_by_contact``): a window facade or a pole
      beside a head is linked to it by a ledge or a corner, hair along its roots.
    """
    h, w = img.shape[-2:]
    far = 1 - dilate(m, reach)
    if others is not None:
        far = torch.maximum(far, others.float())
    far_s = (_resize(far, img_s.shape[-2:]) > 0.99).float()
    gb = local_gaussian(img_s, far_s, max(4, round(2.5 * reach * scale)))
    ring = known_bg * (1 - far)
    ys, xs = torch.nonzero(ring > 0.5, as_tuple=True)
    x_ring = img[:, ys, xs][:, None]
    llr = _llr_at(img, ys, xs, gf, gb)
    like = llr > llr_min
    if faint > 0:
        like = like | _faint_strand(
            img, x_ring, ys, xs, _model_at(gf, ys, xs, (h, w)), search, faint
        )
    if far_share > 0:
        rad = max(4, round(1.5 * reach * scale))
        like = like & (_far_share(img_s, far_s, rad, img[:, ys, xs], ys, xs, (h, w)) < far_share)
    textured = dilate((energy > texture).float(), 2)

    def gated(hits: torch.Tensor) -> torch.Tensor:
        if density < 1:
            hits = hits * (box_filter(hits[None], max(1, search // 2))[0] < density).float()
        return hits * textured

    cand = torch.zeros((h, w), device=img.device)
    cand[ys, xs] = like.float()[0] * ring[ys, xs]
    cand = gated(cand)
    grown = _grow_through(unknown, cand, reach - search, bridge, ring)
    if pattern > 0:
        # the far background's candidates, by the very same test (models, cut, gates)
        away = far if others is None else far * (1 - others.float())
        fy, fx = torch.nonzero(away > 0.5, as_tuple=True)
        scene = torch.zeros((h, w), device=img.device)
        scene[fy, fx] = (_llr_at(img, fy, fx, gf, gb) > llr_min).float()[0]
        scene = gated(scene)
        # strands that run on past the reach are the person's, not the scene's
        linked = grown * (1 - unknown)
        scene = scene * (1 - _grow_through(linked, scene, 0, bridge, away))
        kept = _person_pattern(
            cand, linked, scene, ring, away, img_s.shape[-2:], search, reach, pattern
        )
        kept = kept * torch.maximum(
            _fed_by_contact(linked, unknown, cand, reach - search), 1 - linked
        )
        grown = _grow_through(unknown, cand * kept, reach - search, bridge, ring)
    return dilate(grown * (1 - unknown), margin)


def _llr_at(img, ys, xs, gf: LocalGaussian, gb: LocalGaussian) -> torch.Tensor:
    """(1,N) log-likelihood ratio (> 0: more like ``gf``) of the pixels ``ys, xs`` of ``img``,
    with both models fitted on the reduced grid and sampled there."""
    size = img.shape[-2:]
    x = img[:, ys, xs][:, None]
    qf, ldf = _mahalanobis_logdet(x, _model_at(gf, ys, xs, size))
    qb, ldb = _mahalanobis_logdet(x, _model_at(gb, ys, xs, size))
    return 0.5 * (qb + ldb) - 0.5 * (qf + ldf)


def _person_pattern(
    cand: torch.Tensor,
    linked: torch.Tensor,
    scene: torch.Tensor,
    ring: torch.Tensor,
    away: torch.Tensor,
    size_s: tuple[int, int],
    search: int,
    reach: int,
    ratio: float,
) -> torch.Tensor:
    """(H,W) {0,1}: the pieces (8-connected) of the strand candidates linked to the person
    (``linked``) whose own density (within ``search``) is, on average over the piece, more
    than ``ratio`` times the density of the scene's candidates within ``reach`` (ring
    candidates not linked to the person nor within ``search`` of what is, and those of the
    far background ``away``); 1 off the linked pieces.

    Why: a strand candidate is a foreground-like, textured pixel. Hair makes such pixels
    next to the person and linked to them; a window grid, a fence or a row of poles makes
    them all over the scene, and only a part of it happens to touch the person's band (the
    real two-person clip: the building's dark window frames beside both heads came out as
    "strands", ~28k unknown pixels far outside one mask). The scene's pattern is judged by
    the same test as the ring's (same models, cut, texture and density gates), so the
    comparison says only whose pattern it is. Densities are taken on the colour models'
    reduced grid (``size_s``). Measured on dev-sets: pixel-wise verdicts, or the piece's
    density taken within ``reach`` too, cut hair over grass (GT04) and a buckle (GT05).
    """
    scale = size_s[0] / cand.shape[-2]
    # the ring's free part: not linked, and more than a search width from what is (the rest of
    # a buckle's loop, a strand's broken tip are the person's, not the scene's)
    free = ring * (1 - dilate(linked, search))

    def density(hits: torch.Tensor, zone: torch.Tensor, radius: int) -> torch.Tensor:
        rad = max(1, round(radius * scale))
        got = box_sum(_resize(hits, size_s, "area")[None], rad)[0]
        return got / box_sum(_resize(zone, size_s, "area")[None], rad)[0].clamp_min(1e-6)

    # the linked structure's own density where it is (a buckle, a lock of hair), the scene's
    # over the whole reach around it
    own = density(cand * linked, ring, search)
    # each of the scene's zones on its own: the ring's free part is mostly plain background
    # between strands, which would thin out the far background's pattern
    theirs = torch.maximum(density(cand * free, free, reach), density(scene, away, reach))
    size = cand.shape[-2:]
    own, theirs = (_resize(x, size, "bilinear").cpu().numpy() for x in (own, theirs))
    # one verdict per linked piece (8-connected, outside the band): a pixel-wise one would cut
    # a buckle's loop in two where the scene nearby is busy, and lose all beyond the cut
    on = (linked * cand > 0.5).cpu().numpy()
    count, labels = cv2.connectedComponents(on.astype(np.uint8), connectivity=8)
    pieces = labels[on]
    size_of = np.bincount(pieces, minlength=count).clip(1)
    mine = np.bincount(pieces, own[on], count) / size_of
    scene_of = np.bincount(pieces, theirs[on], count) / size_of
    keep = mine > ratio * scene_of
    keep[0] = False
    kept = torch.from_numpy(keep[labels]).to(cand.device, cand.dtype)
    # candidates not linked to the person stay candidates (they cannot grow the region)
    return torch.maximum(kept, 1 - linked)


def _fed_by_contact(
    linked: torch.Tensor, unknown: torch.Tensor, cand: torch.Tensor, length: int
) -> torch.Tensor:
    """(H,W) {0,1}: the pieces of ``linked`` (8-connected) that hold no more candidates than
    strands leaving the band where they touch it could: ``length`` px per contact pixel.

    Why: a strand touches the band with its root and runs out at most ``length`` px (the
    reach beyond the search band), so a lock of strands holds at most its contact times that.
    A window patch or a sign beside a head touches the band through a thin ledge or corner
    and is as wide as tall out there: far more pixels than its contact could feed (the real
    two-person clip: a 940-px grid patch beside a face through a few pixels).
    """
    on = (linked > 0.5).cpu().numpy()
    count, labels = cv2.connectedComponents(on.astype(np.uint8), connectivity=8)
    touch = on & (dilate(unknown, 1) > 0.5).cpu().numpy()
    contact = np.bincount(labels[touch], minlength=count)
    held = np.bincount(labels[on & (cand > 0.5).cpu().numpy()], minlength=count)
    keep = held <= contact * length
    keep[0] = False
    return torch.from_numpy(keep[labels]).to(linked.device, linked.dtype)


FAR_LEVELS = 6  # colour bins per channel of the far background's local histogram


def _far_share(
    img_s: torch.Tensor,
    far_s: torch.Tensor,
    radius: int,
    x: torch.Tensor,
    ys: torch.Tensor,
    xs: torch.Tensor,
    size: tuple[int, int],
) -> torch.Tensor:
    """Share of the far-background samples (``far_s`` on the reduced grid ``img_s``) within
    ``radius`` that fall in the colour bin of each pixel ``x`` (3,N) at full-resolution
    ``ys, xs`` of a frame of ``size``; returned as (1,N).

    A local colour histogram rather than a Gaussian: the background beside a head is often two
    or more colours (wall and window frames, leaves and sky), and only a histogram says that a
    dark pixel is common out there. Two bin grids half a bin apart (the larger share counts),
    so a colour on a bin edge is not split in two.
    """
    levels = FAR_LEVELS
    hs, ws = img_s.shape[-2:]
    total = box_sum(far_s[None], radius)[0].clamp_min(1.0)
    # nearest reduced-grid pixel of each full-resolution pixel
    ry = ((ys.float() + 0.5) * hs / size[0]).long().clamp(0, hs - 1)
    rx = ((xs.float() + 0.5) * ws / size[1]).long().clamp(0, ws - 1)
    share = torch.zeros(x.shape[-1], device=x.device)
    for shift in (0.0, 0.5):
        bins_s = _colour_bin(img_s.reshape(3, -1), levels, shift).reshape(hs, ws)
        bins_x = _colour_bin(x, levels, shift)
        for b in torch.unique(bins_x).tolist():
            hit = bins_x == b
            count = box_sum(((bins_s == b).float() * far_s)[None], radius)[0]
            share[hit] = torch.maximum(share[hit], (count / total)[ry[hit], rx[hit]])
    return share[None]


def _colour_bin(x: torch.Tensor, levels: int, shift: float) -> torch.Tensor:
    """Index of each colour (3,N) in a ``levels``^3 grid of bins shifted by ``shift`` bins."""
    q = (x.clamp(0, 1) * levels + shift).floor().long().clamp(0, levels)
    return (q[0] * (levels + 1) + q[1]) * (levels + 1) + q[2]


def _faint_strand(img, x, ys, xs, gf, search: int, faint: float) -> torch.Tensor:
    """Ring pixels (x: (3,1,N) at ``ys, xs``) a faint strand may cross: at least ``faint`` of
    the way from their neighbourhood's mean colour towards the local foreground's, and out of
    the ring's noise (squared distance above 9 typical local variances).

    Why: the likelihood ratio asks whether a pixel looks *more like the foreground* than the
    background, which a strand of alpha 0.1-0.4 never does; against its own surroundings (a
    strand is thin, so its neighbourhood is mostly background) it still stands out, towards
    the person's colour. The demo shot's hair over a bright sky: 2% -> 24% of the truth's soft
    alpha at ``faint`` 0.05 (0.15: 8%).
    """
    r = max(2, search // 4)
    mean = box_filter(img, r)
    var = (box_filter(img * img, r) - mean * mean).clamp_min(0).sum(0)
    local = mean[:, ys, xs][:, None]
    diff = gf.mean - local
    step = x - local
    along = (step * diff).sum(0) / (diff * diff).sum(0).clamp_min(1e-6)
    # the noise is the ring's *typical* local variance (most of the ring is background; a
    # pixel's own window holds its strand and its neighbours')
    noise = var[ys, xs].median() if ys.numel() else var.new_zeros(())
    spread = (step * step).sum(0) / (9.0 * noise + 1e-4)
    return (along > faint) & (spread > 1.0)


def _grow_through(
    region: torch.Tensor, cand: torch.Tensor, steps: int, bridge: int, domain: torch.Tensor
) -> torch.Tensor:
    """Grow ``region`` through ``cand`` pixels (gaps up to ``bridge`` px closed), one pixel a
    step for at most ``steps`` steps: only candidates connected to the region are taken, so a
    look-alike patch that touches nothing is left alone. Closing stays inside ``domain``."""
    if bridge > 0:
        cand = erode(dilate(cand, bridge), bridge) * domain
    # candidates connected to the region, by connected components (one pass, not ``steps``
    # dilations of the whole region of interest); the step bound only matters for components
    # longer than ``steps``, which the ring (within reach of the mask) already rules out
    seeds = (region > 0.5).cpu().numpy()
    both = (seeds | (cand > 0.5).cpu().numpy()).astype(np.uint8)
    count, labels = cv2.connectedComponents(both, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[seeds])] = True
    keep[0] = False
    grown = torch.from_numpy(keep[labels]).to(region.device, region.dtype)
    grown = torch.maximum(grown, region)
    return grown
