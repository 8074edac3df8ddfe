"""Progressive refinement: re-estimate only the uncertain pixels, at 1/4 and then at 1/1.

A pixel is uncertain when the coarser alpha is strictly between ``u`` and ``1 - u`` (grown by one
pixel). Dense convolutions run on the smallest box holding every uncertain pixel of the pass, grown
by the refiner's receptive radius, and their correction is written back at uncertain pixels only:
inside that margin the box sees exactly what the whole frame would, so cropping changes speed, not
results (``crop=False`` runs the whole frame; the ONNX export uses it, having no data-dependent
shapes). This is the dense-convolution stand-in for the sparse convolutions of the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RADIUS = 3  # three 3x3 convolutions


def uncertain_mask(alpha: torch.Tensor, u: float) -> torch.Tensor:
    """(B,K,H,W) bool: alpha strictly inside (u, 1-u), grown by one pixel."""
    band = ((alpha > u) & (alpha < 1.0 - u)).to(alpha.dtype)
    return F.max_pool2d(band, 3, 1, 1) > 0


def _box(mask: torch.Tensor, margin: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) around every True pixel of (B,K,H,W), grown by ``margin``; None if none."""
    rows = mask.any(-1).flatten(0, 1).any(0).nonzero()
    cols = mask.any(-2).flatten(0, 1).any(0).nonzero()
    if rows.numel() == 0:
        return None
    h, w = mask.shape[-2:]
    y0 = max(0, int(rows[0]) - margin)
    y1 = min(h, int(rows[-1]) + 1 + margin)
    x0 = max(0, int(cols[0]) - margin)
    x1 = min(w, int(cols[-1]) + 1 + margin)
    return y0, y1, x0, x1


class Refiner(nn.Module):
    """Shared features + one instance's coarse logit and rough mask -> a logit correction."""

    def __init__(self, feat_channels: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(feat_channels + 2, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, 1, 3, padding=1),
        )
        nn.init.normal_(self.net[-1].weight, std=1e-3)  # starts as (almost) no correction
        nn.init.zeros_(self.net[-1].bias)

    def _delta(self, feats, logits, masks):
        b, k, h, w = logits.shape
        shared = feats[:, None].expand(b, k, *feats.shape[1:]).flatten(0, 1)
        guide = torch.stack([torch.tanh(logits / 4.0), masks], 2).flatten(0, 1)
        return self.net(torch.cat([shared, guide], 1)).view(b, k, h, w)

    def forward(
        self,
        feats: torch.Tensor,
        coarse_logits: torch.Tensor,
        masks: torch.Tensor,
        u: float,
        crop: bool = True,
    ) -> torch.Tensor:
        """feats (B,C,H,W), coarse_logits (B,K,H,W) at this scale, masks (B,K,H,W) -> logits."""
        where = uncertain_mask(torch.sigmoid(coarse_logits), u)
        if not crop:
            delta = self._delta(feats, coarse_logits, masks)
            return torch.where(where, coarse_logits + delta, coarse_logits)
        box = _box(where, RADIUS)
        if box is None:
            return coarse_logits
        y0, y1, x0, x1 = box
        delta = self._delta(
            feats[..., y0:y1, x0:x1], coarse_logits[..., y0:y1, x0:x1], masks[..., y0:y1, x0:x1]
        )
        full = F.pad(delta, (x0, coarse_logits.shape[-1] - x1, y0, coarse_logits.shape[-2] - y1))
        return torch.where(where, coarse_logits + full, coarse_logits)
