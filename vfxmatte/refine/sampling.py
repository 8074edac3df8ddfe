"""Sampling-based alpha estimates: a data term for the closed-form solve.

Why: the matting Laplacian only propagates the trimap's known values through local colour-line
windows, so inside a hair mass (strands over a visible background) it fills the unknown band
with too much or too little alpha, and nothing in it says how much background shows through.
Sampling methods (Shared Matting, Gastal & Oliveira 2010; Robust Matting, Wang & Cohen 2007)
estimate alpha per pixel from actual foreground and background colours found nearby, which is
right exactly there and noisy elsewhere. Used as a confidence-weighted data term in the solve
(``a^T L a + lambda * sum conf (a - a_sampled)^2``, as Robust Matting does), each covers the
other's weakness (measured in docs/benchmarks.md).

Steps, all vectorised tensor code over the unknown pixels (CPU or CUDA):

1. *gathering*: from every unknown pixel, rays in ``directions`` directions (rotated per pixel
   in a 3x3 pattern so neighbours see different samples) march until they meet a known
   foreground and a known background pixel; their colours are the candidates;
2. *pair choice*: of all candidate (F, B) pairs, the one minimising chromatic distortion
   ``|C - (a F + (1 - a) B)|`` (strongly), and the distances to F and to B (mildly, B more:
   a near background sample is more likely the one behind the pixel);
3. *refinement*: each pixel re-fits its colour to the best ``topk`` pairs of its neighbours
   (within ``refine_radius``), averaged; alpha is the projection of the pixel's colour on the
   F-B line and the confidence falls with the remaining distortion and with how close F and B
   are (a pair of similar colours explains any alpha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# unknown pixels handled per block: bounds the (pixels x directions^2 x 3) pair tensors
_BLOCK = 1 << 15


@dataclass
class SampledAlpha:
    """Per-pixel alpha estimate and its confidence in [0, 1] (0 outside the unknown region)."""

    alpha: torch.Tensor  # (H, W): 1 on known foreground, sampled estimate on unknown pixels
    confidence: torch.Tensor  # (H, W)


def sample_alpha(
    image: torch.Tensor,
    trimap: torch.Tensor,
    directions: int = 8,
    max_dist: int = 150,
    refine_radius: int = 2,
    topk: int = 3,
    sigma: float = 0.03,
    separation: float = 0.01,
    distance_powers: tuple[float, float] = (1.0, 4.0),
    distortion_power: float = 6.0,
    stride: int = 2,
    background: torch.Tensor | None = None,
) -> SampledAlpha:
    """Sampled alpha and confidence of the unknown pixels of ``trimap`` (1 fg, 0 bg, 0.5 unknown).

    image (3,H,W) in [0,1]. ``max_dist``: how far (px) a ray looks for known pixels (at least
    the unknown band's width). ``sigma``: chromatic distortion at which the confidence falls to
    1/e; ``separation``: squared F-B distance at which it halves. ``distance_powers`` and
    ``distortion_power`` weigh the pair choice (log-cost ``p_d log M + p_f log dF + p_b log dB``,
    Shared Matting's exponents). ``stride``: the foreground and background colours are sampled
    on a grid ``stride`` times coarser (they are smooth fields; cost / stride^2) and each pixel's
    alpha is then fitted to its own full-resolution colour, which keeps strands sharp.
    ``refine_radius`` is in coarse-grid pixels. ``background`` (3,H,W): a clean plate; each
    pixel's background colour is then the plate's there (as Background Matting uses it) and
    the rays only look for foreground colours.
    """
    h, w = trimap.shape
    dev = image.device
    img = image.float()
    fg_known = trimap > 0.75
    bg_known = trimap < 0.25
    unknown = ~(fg_known | bg_known)
    alpha = fg_known.float()
    confidence = torch.zeros((h, w), device=dev)
    if not bool(unknown.any()):
        return SampledAlpha(alpha, confidence)
    plate = background.float() if background is not None else None
    coarse_plate = plate
    if stride > 1:
        coarse_img = F.avg_pool2d(img[None], stride, ceil_mode=True)[0]
        if plate is not None:
            coarse_plate = F.avg_pool2d(plate[None], stride, ceil_mode=True)[0]
        all_fg = -F.max_pool2d(-fg_known.float()[None, None], stride, ceil_mode=True)[0, 0]
        all_bg = -F.max_pool2d(-bg_known.float()[None, None], stride, ceil_mode=True)[0, 0]
        coarse_tri = all_fg + 0.5 * (1 - all_fg - all_bg)
    else:
        coarse_img, coarse_tri = img, trimap
    fg_map, bg_map, found = _sample_colours(
        coarse_img, coarse_tri, directions, max(1, max_dist // stride), refine_radius, topk,
        distance_powers, distortion_power, coarse_plate,
    )  # fmt: skip
    ys, xs = torch.nonzero(unknown, as_tuple=True)
    cy, cx = ys // stride, xs // stride
    bg = plate[:, ys, xs] if plate is not None else bg_map[:, cy, cx]
    a, dist, sep = _fit(img[:, ys, xs].T, fg_map[:, cy, cx].T, bg.T)
    ok = found[cy, cx]
    alpha[ys, xs] = torch.where(ok, a, 0.5)
    conf = torch.exp(-((dist / sigma) ** 2)) * (sep / (sep + separation))
    confidence[ys, xs] = torch.where(ok, conf, 0.0)
    return SampledAlpha(alpha, confidence)


def _sample_colours(
    img, trimap, directions, max_dist, refine_radius, topk, powers, power, plate=None
):
    """Foreground and background colour maps (3,H,W) of the unknown pixels and where found.

    Gathering (best ray pair per pixel), then refinement: each pixel takes the mean of the
    ``topk`` pairs of its neighbourhood that best explain its own colour. With a clean
    ``plate`` every pixel's background is the plate's colour there.
    """
    h, w = trimap.shape
    dev = img.device
    fg_known = trimap > 0.75
    bg_known = trimap < 0.25
    ys, xs = torch.nonzero(~(fg_known | bg_known), as_tuple=True)
    n = ys.numel()
    code = fg_known.to(torch.int8) + 2 * bg_known.to(torch.int8)
    rays = _Rays.build(code, directions, max_dist)
    flat = img.reshape(3, -1)
    fg_map = torch.zeros((3, h, w), device=dev)
    bg_map = torch.zeros((3, h, w), device=dev)
    found_map = torch.zeros((h, w), dtype=torch.bool, device=dev)
    for s in range(0, n, _BLOCK):
        y, x = ys[s : s + _BLOCK], xs[s : s + _BLOCK]
        f, b, ok = _gather_pairs(flat, rays, y, x, powers, power, plate)
        fg_map[:, y, x] = f.T
        bg_map[:, y, x] = b.T
        found_map[y, x] = ok
    r = refine_radius
    if r <= 0:
        return fg_map, bg_map, found_map
    span = torch.arange(-r, r + 1, device=dev)
    oy, ox = (t.reshape(-1) for t in torch.meshgrid(span, span, indexing="ij"))
    fg_out, bg_out, found_out = fg_map.clone(), bg_map.clone(), found_map.clone()
    for s in range(0, n, _BLOCK):
        y, x = ys[s : s + _BLOCK], xs[s : s + _BLOCK]
        qy = (y[:, None] + oy).clamp(0, h - 1)
        qx = (x[:, None] + ox).clamp(0, w - 1)
        f_q = fg_map[:, qy, qx].permute(1, 2, 0)
        if plate is not None:
            b_q = plate[:, y, x].T[:, None].expand_as(f_q)
        else:
            b_q = bg_map[:, qy, qx].permute(1, 2, 0)
        _, dist, _ = _fit(img[:, y, x].T[:, None], f_q, b_q)
        dist = torch.where(found_map[qy, qx], dist, torch.inf)
        best, idx = dist.topk(min(topk, dist.shape[1]), dim=1, largest=False)
        weight = torch.isfinite(best).float()
        norm = weight.sum(1, keepdim=True).clamp_min(1.0)
        pick = idx[..., None].expand(-1, -1, 3)
        fg_out[:, y, x] = ((f_q.gather(1, pick) * weight[..., None]).sum(1) / norm).T
        bg_out[:, y, x] = ((b_q.gather(1, pick) * weight[..., None]).sum(1) / norm).T
        found_out[y, x] = weight[:, 0] > 0
    return fg_out, bg_out, found_out


def _fit(
    colour: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Alpha of ``colour`` on the line from ``bg`` to ``fg`` (clamped), the remaining chromatic
    distortion, and the squared F-B distance (all (..., 3) broadcasting, results (...))."""
    line = fg - bg
    sep = (line * line).sum(-1)
    a = (((colour - bg) * line).sum(-1) / sep.clamp_min(1e-6)).clamp(0, 1)
    dist = (colour - bg - a[..., None] * line).norm(dim=-1)
    return a, dist, sep


_OUTSIDE = 3  # code of the padding around the image (1 known fg, 2 known bg, 0 unknown)


@dataclass
class _Rays:
    """What every ray of one image needs, built once per image (not per block of pixels).

    ``padded``: the flattened code map with an "outside" border as wide as a ray is long, so
    rays need no bounds checks and a ray that leaves the image stops there; ``offsets``
    (D, 9, L): the flat offset of every step of every ray, per direction and per 3x3 jitter
    class (neighbouring pixels look along rotated rays, so they find different samples).
    """

    padded: torch.Tensor
    offsets: torch.Tensor
    size: tuple[int, int]
    pad: int

    @classmethod
    def build(cls, code: torch.Tensor, directions: int, max_dist: int) -> _Rays:
        h, w = code.shape
        dev = code.device
        pad = max_dist + 1
        wp = w + 2 * pad
        padded = torch.full((h + 2 * pad, wp), _OUTSIDE, dtype=code.dtype, device=dev)
        padded[pad : pad + h, pad : pad + w] = code
        steps = torch.arange(1, max_dist + 1, device=dev, dtype=torch.float32)
        turn = torch.arange(directions, device=dev)[:, None] + torch.arange(9, device=dev) / 9.0
        theta = (turn * (2 * math.pi / directions))[..., None]  # (D, 9, 1)
        offsets = (torch.sin(theta) * steps).round().long() * wp + (
            torch.cos(theta) * steps
        ).round().long()
        return cls(padded.reshape(-1), offsets, (h, w), pad)


def _gather_pairs(flat, rays: _Rays, ys, xs, distance_powers, power, plate=None):
    """Best (F, B) colour pair of each pixel from ``rays`` (with a clean ``plate``, B is the
    plate's colour at the pixel, one step away)."""
    m = ys.numel()
    dev = flat.device
    (h, w), pad = rays.size, rays.pad
    directions = rays.offsets.shape[0]
    start = (ys + pad) * (w + 2 * pad) + xs + pad
    jitter = (ys % 3) * 3 + xs % 3
    fg = torch.zeros((m, directions, 3), device=dev)
    bg = torch.zeros((m, directions, 3), device=dev)
    f_dist = torch.full((m, directions), torch.inf, device=dev)
    b_dist = torch.full((m, directions), torch.inf, device=dev)
    for d in range(directions):
        fg[:, d], bg[:, d], f_dist[:, d], b_dist[:, d] = _march(
            flat, rays.padded, (h, w, pad), start, rays.offsets[d][jitter]
        )
    colour = flat[:, ys * w + xs].T
    if plate is not None:
        bg = plate[:, ys, xs].T[:, None].expand_as(fg).contiguous()
        b_dist = torch.where(torch.isfinite(f_dist), 1.0, torch.inf)
    _, dist, _ = _fit(colour[:, None, None], fg[:, :, None], bg[:, None, :])
    pf, pb = distance_powers
    cost = (
        power * torch.log(dist + 1e-3)
        + pf * torch.log(f_dist[:, :, None].clamp(max=1e6))
        + pb * torch.log(b_dist[:, None, :].clamp(max=1e6))
    )
    valid = torch.isfinite(f_dist)[:, :, None] & torch.isfinite(b_dist)[:, None, :]
    best = torch.where(valid, cost, torch.inf).flatten(1).argmin(1)
    i_f = (best // directions)[:, None, None].expand(-1, 1, 3)
    i_b = (best % directions)[:, None, None].expand(-1, 1, 3)
    return fg.gather(1, i_f)[:, 0], bg.gather(1, i_b)[:, 0], valid.flatten(1).any(1)


def _march(flat, padded, geometry, start, offsets, segment: int = 16):
    """First known-foreground and known-background pixel along each ray (colour, distance).

    ``padded``: the flattened, padded code map; ``start`` (m,) each ray's origin in it and
    ``offsets`` (m, L) the flat offsets of its steps. Rays advance ``segment`` steps at a time
    and only the ones still missing a sample (and still inside the image) go on, so the cost
    follows the distance to the known regions, not the ray length.
    """
    h, w, pad = geometry
    wp = w + 2 * pad
    m, length = offsets.shape
    dev = flat.device
    cols = (torch.zeros((m, 3), device=dev), torch.zeros((m, 3), device=dev))
    dists = (torch.full((m,), torch.inf, device=dev), torch.full((m,), torch.inf, device=dev))
    rows = torch.arange(m, device=dev)
    for s in range(0, length, segment):
        idx = start[rows, None] + offsets[rows, s : s + segment]
        kind = padded[idx]
        for value, col, dist in zip((1, 2), cols, dists, strict=True):
            hit = (kind == value) & torch.isinf(dist[rows])[:, None]
            any_hit = hit.any(1)
            first = hit.to(torch.uint8).argmax(1)[any_hit]
            r = rows[any_hit]
            at = idx[any_hit].gather(1, first[:, None])[:, 0]
            col[r] = flat[:, (at // wp - pad) * w + at % wp - pad].T
            dist[r] = (first + s + 1).float()
        missing = torch.isinf(dists[0][rows]) | torch.isinf(dists[1][rows])
        left = (kind == _OUTSIDE).any(1)
        rows = rows[missing & ~left]
        if rows.numel() == 0:
            break
    return cols[0], cols[1], dists[0], dists[1]
