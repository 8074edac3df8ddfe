"""Opaque interiors stay opaque.

Deep inside a rough mask (further than twice the edge search band from its edge) the mask is
right unless the image shows background there (a hole: :mod:`vfxmatte.refine.holes`). A
solve can still leave such an interior grey (a held-out clip returned a plush toy's body at
0.67 on 5 of 24 frames), which a compositor sees at once as a see-through person. So the
interior's alpha is lifted to 1 there, holes and their surroundings excepted.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vfxmatte.refine.filters import dilate, erode

CORE_DEPTH = 2.0  # depth of the held interior, in search bands from the mask's edge
# depth (in search bands) beyond which a pixel of the mask its person owns is nobody else's:
# measured on the 8 worst synth multi composites of the folds (leak x1e3 / MAD x1e3): a full
# band 6.9 / 12.8, a third 4.4 / 12.7, 1 px 3.4 / 12.9
TERRITORY_DEPTH = 1 / 3
# least alpha of a person's own solve for a pixel of their territory to be a solid core.
# Measured on dev-sets/multi (per-instance MAD x1e3 / leakage, main 6.900 / 0.0027): every
# owned pixel 7.10 / 0.0008, 0.95 6.85 / 0.0024, 0.8 6.86 / 0.0018, 0.75 6.88 / 0.0016,
# 0.7 6.90 / 0.0015, 0.5 6.98 / 0.0011 (with :func:`first_claim`)
SOLID = 0.75


def core_region(
    mask: torch.Tensor,
    search: int,
    holes: torch.Tensor | None = None,
    depth: float = CORE_DEPTH,
    within: torch.Tensor | None = None,
) -> torch.Tensor:
    """(H,W) {0,1}: more than ``depth * search`` px inside ``mask``, except within ``search`` px
    of a hole, and only on ``within`` (where given: the pixels this person owns among several,
    see :func:`mask_depths`). It is also a solid core for instance consistency."""
    r = max(1, round(depth * search))
    deep = erode((mask > 0.5).float(), r)
    if holes is not None and bool(holes.any()):
        deep = deep * (1 - dilate(holes, search))
    if within is not None:
        deep = deep * within
    return deep


def hold_core(
    alpha: torch.Tensor,
    mask: torch.Tensor,
    search: int,
    holes: torch.Tensor | None = None,
    depth: float = CORE_DEPTH,
    within: torch.Tensor | None = None,
) -> torch.Tensor:
    """``alpha`` (H,W) set to 1 on :func:`core_region`."""
    return torch.maximum(alpha, core_region(mask, search, holes, depth, within))


def mask_depths(masks: torch.Tensor) -> torch.Tensor:
    """(N,H,W) float: each pixel's Euclidean distance (px) to the edge of each person's rough
    mask, 0 outside it (OpenCV's distance transform, on the CPU)."""
    out = torch.zeros_like(masks, dtype=torch.float32)
    for i in range(masks.shape[0]):
        m = (masks[i] > 0.5).cpu().numpy().astype(np.uint8)
        if m.any():
            out[i] = torch.from_numpy(cv2.distanceTransform(m, cv2.DIST_L2, 5)).to(out.device)
    return out


def owners(depths: torch.Tensor) -> torch.Tensor:
    """(N,H,W) {0,1}: where each person's mask is the deepest of all masks (ties shared).

    Why: rough masks of people who touch overlap (a grown roto, a segmenter's blocky mask of
    the person behind). Where two masks cover a pixel, the one whose edge is further away is
    the one that is right there: the other reaches it only with its faulty rim."""
    if depths.shape[0] < 2:
        return (depths > 0).float()
    best = depths.max(0, keepdim=True).values
    return ((depths >= best) & (depths > 0)).float()


def territories(
    depths: torch.Tensor,
    depth: float,
    alphas: torch.Tensor | None = None,
    owned: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,H,W) {0,1}: pixels more than ``depth`` px inside a person's mask that the person
    owns (:func:`owners`) and, where ``alphas`` (N,H,W) are given, where the person's own
    alpha is solid (>= ``SOLID``); nobody else's alpha belongs there. Without this, synth
    multi sets put alpha of 0.04-0.5 of one instance inside another's opaque body (a solve's
    soft band running under the neighbour's rough mask).

    Why the alpha too: a rough mask grown past its person onto the one behind (dev-sets
    multi pair02: blobby troll masks over a teddy's fur) owns pixels its own solve found
    are not (all) the person's; made a territory there, the teddy lost its fur (alpha ~0.5
    set to 0: instance MAD 8.6 -> 9.6). ``owned``: :func:`owners` of ``depths`` where the
    caller has it already (a full-frame pass per person saved)."""
    owned = owners(depths) if owned is None else owned
    land = owned * (depths > depth).float()
    return solid_part(land, alphas) if alphas is not None else land


def solid_part(land: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """``land`` (N,H,W, :func:`territories` without alphas) where each person's own alpha is
    solid (>= ``SOLID``): the territories with alphas, from territories already computed."""
    return land * (alphas >= SOLID).float()


CLAIM_ROWS = 256  # rows of the frame :func:`first_claim` works on at once


def first_claim(alphas: torch.Tensor, land: torch.Tensor) -> torch.Tensor:
    """``alphas`` (N,H,W) with every other person's alpha capped at ``1 - alpha`` of the
    person whose territory (``land``, :func:`territories` without alphas) a pixel is.

    Why: where the owner's own solve is not solid (fur, hair of someone in front), the pixel
    is shared, and what the owner did not take is what the others may have; proportional
    sharing instead took some of the owner's alpha away. Measured on dev-sets/multi: MAD
    x1e3 6.90 -> 6.85, every instance better or equal within 0.01.

    Person i's cap is the least ``room`` of everyone else: the smallest room, or the second
    smallest where i's own is the smallest. Two smallest per pixel cost O(N) a pixel where
    capping person by person cost O(N^2) (0.85 s of an 8-person HD frame); a minimum picks
    a value, so the result is the same to the bit.
    """
    if alphas.shape[0] < 2:
        return alphas.clone()
    # a band of rows at a time (every step is per pixel: the same bits): the room, the two
    # smallest, their indices (int64) and the caps of a whole 4K frame took ~400 MB at once
    out = torch.empty_like(alphas)
    me = torch.arange(alphas.shape[0], device=alphas.device)[:, None, None]
    for r0 in range(0, alphas.shape[1], CLAIM_ROWS):
        a, own = alphas[:, r0 : r0 + CLAIM_ROWS], land[:, r0 : r0 + CLAIM_ROWS]
        room = torch.where(own > 0, 1 - a, torch.ones_like(a))
        least, which = room.topk(2, dim=0, largest=False)
        cap = torch.where(which[0][None] == me, least[1][None], least[0][None])
        torch.minimum(a, cap, out=out[:, r0 : r0 + CLAIM_ROWS])
    return out
