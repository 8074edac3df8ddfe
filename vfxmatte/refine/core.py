"""Opaque interiors stay opaque.

Deep inside a rough mask (further than twice the edge search band from its edge) the mask is
right unless the image shows background there (a hole: :mod:`vfxmatte.refine.holes`). A
solve can still leave such an interior grey (a held-out clip returned a plush toy's body at
0.67 on 5 of 24 frames), which a compositor sees at once as a see-through person. So the
interior's alpha is lifted to 1 there, holes and their surroundings excepted.
"""

from __future__ import annotations

import torch

from vfxmatte.refine.filters import dilate, erode

CORE_DEPTH = 2.0  # depth of the held interior, in search bands from the mask's edge


def core_region(
    mask: torch.Tensor,
    search: int,
    holes: torch.Tensor | None = None,
    depth: float = CORE_DEPTH,
) -> torch.Tensor:
    """(H,W) {0,1}: more than ``depth * search`` px inside ``mask``, except within ``search`` px
    of a hole. It is also a solid core for instance consistency (no one else's alpha there)."""
    r = max(1, round(depth * search))
    deep = erode((mask > 0.5).float(), r)
    if holes is not None and bool(holes.any()):
        deep = deep * (1 - dilate(holes, search))
    return deep


def hold_core(
    alpha: torch.Tensor,
    mask: torch.Tensor,
    search: int,
    holes: torch.Tensor | None = None,
    depth: float = CORE_DEPTH,
) -> torch.Tensor:
    """``alpha`` (H,W) set to 1 on :func:`core_region`."""
    return torch.maximum(alpha, core_region(mask, search, holes, depth))
