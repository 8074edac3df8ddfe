"""Instance consistency: people's alphas must add up, not overlap.

Rules (DESIGN.md): the instance alphas sum to at most the union alpha; no person's alpha leaks
into another person's solid core; where two people genuinely overlap (hair over a shoulder), the
alpha is shared between them, not duplicated.
"""

from __future__ import annotations

import torch


def enforce_instance_consistency(
    alphas: torch.Tensor, cores: torch.Tensor | None = None, eps: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Make (N, H, W) alphas consistent and return (instance_alphas, union_alpha).

    cores: optional (N, H, W) {0,1} solid-foreground regions per person. Inside person j's core,
    every other person's alpha is removed. Then, where the alphas sum above 1, they are scaled
    down proportionally so they share the pixel; the union is their (capped) sum, so a pixel
    that is half person A and half person B is fully covered.
    """
    a = alphas.clamp(0.0, 1.0)
    n = a.shape[0]
    if n == 0:
        return a, torch.zeros(a.shape[-2:], dtype=a.dtype, device=a.device)
    if cores is not None and n > 1:
        cores = cores.to(a.dtype)
        total = cores.sum(0, keepdim=True)
        others = (total - cores).clamp(0, 1)
        a = a * (1 - others)
    s = a.sum(0)
    scale = torch.where(s > 1.0, 1.0 / s.clamp_min(eps), torch.ones_like(s))
    a = a * scale
    return a, a.sum(0).clamp(0.0, 1.0)
