"""Per-frame failure detection: an alpha that disagrees grossly with its rough mask.

A rough mask is rough at its edge, not in its bulk: when the alpha of a person loses the
mask's interior (an opaque body at 0.67) or spreads far beyond it, the solve failed on that
frame (a lost core, a look-alike background), and a mask-constrained solve is the safer
answer. The check is cheap (two means) and its verdict travels with the frame as a
:class:`FrameCheck`, so the pipeline can say so in the progress line and the EXR metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from vfxmatte.refine.filters import dilate, erode

CORE_FLOOR = 0.9  # least mean alpha deep inside the mask (holes excepted)
SPILL_CEIL = 0.5  # most alpha mass outside the grown mask, as a fraction of the mask's area


@dataclass(frozen=True)
class FrameCheck:
    """One person's verdict on one frame (plain values, JSON-ready via :meth:`as_dict`)."""

    core_mean: float  # mean alpha deep inside the rough mask
    spill: float  # alpha outside the grown mask / mask area
    failed: bool
    fell_back: bool = False  # a mask-constrained solve replaced the alpha
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def check_alpha(
    alpha: torch.Tensor, mask: torch.Tensor, search: int, holes: torch.Tensor | None = None
) -> FrameCheck:
    """Compare ``alpha`` with its rough ``mask`` (both (H,W)); ``search`` is the band half-width
    (px) within which the two may disagree; ``holes`` (pixels showing background) are left out
    of the core."""
    m = (mask > 0.5).float()
    area = float(m.sum())
    if area == 0:
        return FrameCheck(1.0, 0.0, False)
    deep = erode(m, 2 * search)
    if holes is not None:
        deep = deep * (1 - dilate(holes, search))
    core = float((alpha * deep).sum() / deep.sum()) if bool(deep.any()) else 1.0
    outside = 1 - dilate(m, 3 * search)
    spill = float((alpha * outside).sum()) / area
    reasons = []
    if core < CORE_FLOOR:
        reasons.append(f"core alpha {core:.2f} < {CORE_FLOOR}")
    if spill > SPILL_CEIL:
        reasons.append(f"alpha outside the mask {spill:.2f} x its area")
    return FrameCheck(core, spill, bool(reasons), reason="; ".join(reasons))
