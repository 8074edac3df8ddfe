"""Regions of interest and overlapping tiles with feathered blending, for 4K in bounded memory.

Why: a person's edge band is a small part of a 4K frame. Working on the person's bounding box
(plus the search band) and then on fixed-size tiles of it that contain unknown pixels makes
cost follow the band and keeps peak memory set by the tile size, not the frame size.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def region_of_interest(mask: torch.Tensor, pad: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) bounding box of the nonzero pixels of (H,W) ``mask``, grown by ``pad``."""
    h, w = mask.shape
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    if rows.numel() == 0:
        return 0, 0, 0, 0
    y0 = max(0, int(rows[0]) - pad)
    y1 = min(h, int(rows[-1]) + 1 + pad)
    x0 = max(0, int(cols[0]) - pad)
    x1 = min(w, int(cols[-1]) + 1 + pad)
    return y0, y1, x0, x1


def tile_boxes(h: int, w: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Overlapping (y0, y1, x0, x1) tiles of side <= ``tile`` covering an (h, w) grid."""
    step = max(1, tile - overlap)

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        s = list(range(0, n - tile, step))
        return s + [n - tile]

    return [(y, min(h, y + tile), x, min(w, x + tile)) for y in starts(h) for x in starts(w)]


def feather(
    box: tuple[int, int, int, int], h: int, w: int, overlap: int, device=None, dtype=torch.float32
) -> torch.Tensor:
    """Blend weight of a tile: linear ramps over ``overlap`` px on sides inside the frame.

    Sides on the frame border keep full weight, so the weights of overlapping tiles sum to a
    positive value everywhere and seams are cross-faded, not cut.
    """
    y0, y1, x0, x1 = box
    ramp = max(1, overlap)

    def axis(a0: int, a1: int, n: int) -> torch.Tensor:
        idx = torch.arange(a1 - a0, device=device, dtype=dtype)
        wgt = torch.ones(a1 - a0, device=device, dtype=dtype)
        if a0 > 0:
            wgt = torch.minimum(wgt, (idx + 1) / (ramp + 1))
        if a1 < n:
            wgt = torch.minimum(wgt, (a1 - a0 - idx) / (ramp + 1))
        return wgt

    return axis(y0, y1, h)[:, None] * axis(x0, x1, w)[None, :]


def iter_active_tiles(
    unknown: torch.Tensor, tile: int, overlap: int
) -> Iterator[tuple[int, int, int, int]]:
    """The tiles of ``unknown`` (H,W) that contain at least one unknown pixel."""
    h, w = unknown.shape
    for box in tile_boxes(h, w, tile, overlap):
        y0, y1, x0, x1 = box
        if bool(unknown[y0:y1, x0:x1].any()):
            yield box
