"""Small device-agnostic tensor filters (pure functions, no state), in the style of kornia."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window via cumulative sums: cost independent of radius.

    x: (..., H, W). Borders use the mean over the part of the window inside the image.
    """
    if radius <= 0:
        return x
    h, w = x.shape[-2:]
    lead = x.shape[:-2]
    x2 = x.reshape(-1, 1, h, w)
    ones = torch.ones((1, 1, h, w), dtype=x.dtype, device=x.device)

    def _sum(t: torch.Tensor) -> torch.Tensor:
        t = F.pad(t, (radius + 1, radius, radius + 1, radius))
        c = t.cumsum(-1)
        c = c[..., 2 * radius + 1 :] - c[..., : -(2 * radius + 1)]
        c = c.cumsum(-2)
        return c[..., 2 * radius + 1 :, :] - c[..., : -(2 * radius + 1), :]

    out = _sum(x2) / _sum(ones)
    return out.reshape(*lead, h, w)


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of a (..., H, W) {0,1} mask with a square of side 2r+1."""
    if radius <= 0:
        return mask
    return (box_filter(mask.float(), radius) > 1e-6).to(mask.dtype)


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion of a (..., H, W) {0,1} mask with a square of side 2r+1."""
    if radius <= 0:
        return mask
    return (box_filter(mask.float(), radius) > 1 - 1e-6).to(mask.dtype)
