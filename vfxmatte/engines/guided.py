"""The ``guided`` engine: weight-free mask-guided matting.

First version: a trimap per person from their rough mask (other people's cores count as
background), then an edge-aware guided filter (He et al.) of the mask steered by the image inside
the unknown band. It needs no weights and runs on any torch device. The matting-Laplacian solver
of the full engine replaces the filter step.
"""

from __future__ import annotations

import torch

from vfxmatte.engines.base import Engine, EngineInput
from vfxmatte.refine.filters import box_filter, dilate, erode


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Colour guided filter: guide (3,H,W), src (H,W) -> filtered (H,W)."""
    mean_i = box_filter(guide, radius)  # (3,H,W)
    mean_p = box_filter(src, radius)
    mean_ip = box_filter(guide * src, radius)
    cov_ip = mean_ip - mean_i * mean_p
    ii = guide.unsqueeze(0) * guide.unsqueeze(1)  # (3,3,H,W)
    var_i = box_filter(ii, radius) - mean_i.unsqueeze(0) * mean_i.unsqueeze(1)
    var_i = var_i + eps * torch.eye(3, dtype=guide.dtype, device=guide.device)[..., None, None]
    # Solve the 3x3 system per pixel.
    sigma = var_i.permute(2, 3, 0, 1)  # (H,W,3,3)
    a = torch.linalg.solve(sigma, cov_ip.permute(1, 2, 0).unsqueeze(-1)).squeeze(-1)  # (H,W,3)
    a = a.permute(2, 0, 1)
    b = mean_p - (a * mean_i).sum(0)
    return (box_filter(a, radius) * guide).sum(0) + box_filter(b, radius)


class GuidedEngine(Engine):
    name = "guided"

    def matte(self, inp: EngineInput) -> torch.Tensor:
        image = inp.image.to(self.device, torch.float32).clamp(0, 1)
        masks = (inp.masks.to(self.device, torch.float32) > 0.5).float()
        n, h, w = masks.shape
        band = max(2, int(round(float(self.options.get("band", 0.012)) * max(h, w))))
        eps = float(self.options.get("eps", 1e-4))
        cores = erode(masks, band)
        out = torch.zeros_like(masks)
        for i in range(n):
            if masks[i].sum() == 0:
                continue
            fg = cores[i]
            others = (cores.sum(0) - cores[i]).clamp(0, 1)
            bg = ((1 - dilate(masks[i], band)) + others).clamp(0, 1)
            unknown = (1 - fg) * (1 - bg)
            soft = guided_filter(image, masks[i], band, eps).clamp(0, 1)
            out[i] = fg + unknown * soft
        return out
