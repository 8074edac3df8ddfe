"""The maggie training loss: L1 at three scales + Laplacian + gradient + token attention.

Every term is averaged over the occupied slots only: an empty slot (no rough mask) has no truth
and its output is forced to zero anyway, so counting it would dilute the loss by the slot count.
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia
import torch
import torch.nn.functional as F

from vfxmatte.engines.maggie.model import MaggieOutput

WEIGHTS = {"l1": 1.0, "l1_4": 0.5, "l1_8": 0.25, "laplacian": 1.0, "gradient": 0.5, "attn": 0.05}


@dataclass
class LossTerms:
    total: torch.Tensor
    parts: dict[str, float]


def _masked_mean(per_slot: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """per_slot (B,K) -> mean over valid slots (0 when there are none)."""
    return (per_slot * valid).sum() / valid.sum().clamp(min=1.0)


def _l1(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return (pred - truth).abs().flatten(2).mean(-1)


def laplacian_loss(pred: torch.Tensor, truth: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Per-slot L1 between Laplacian pyramids (B,K); weights finer levels as much as coarse."""
    b, k, h, w = pred.shape
    levels = max(1, min(levels, int(torch.tensor(min(h, w)).log2().item()) - 2))
    p = kornia.geometry.transform.build_laplacian_pyramid(pred.reshape(b * k, 1, h, w), levels)
    t = kornia.geometry.transform.build_laplacian_pyramid(truth.reshape(b * k, 1, h, w), levels)
    total = sum(
        (2**i) * (pi - ti).abs().flatten(1).mean(-1)
        for i, (pi, ti) in enumerate(zip(p, t, strict=True))
    )
    return total.view(b, k)


def gradient_loss(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-slot L1 between image gradients (B,K): penalises smeared or noisy edges."""
    gp = kornia.filters.spatial_gradient(pred)
    gt = kornia.filters.spatial_gradient(truth)
    return (gp - gt).abs().flatten(2).mean(-1)


def attention_loss(attn: torch.Tensor, truth8: torch.Tensor) -> torch.Tensor:
    """Per-slot cross-entropy between a token's attention over pixels and its truth's footprint.

    attn (B,K,hw) sums to 1 over pixels; the target is the 1/8 truth normalised the same way, so a
    token is taught to look at its own person (not at whoever is most salient).
    """
    target = truth8.flatten(2)
    target = target / target.sum(-1, keepdim=True).clamp(min=1e-6)
    return -(target * torch.log(attn + 1e-8)).sum(-1)


def maggie_loss(out: MaggieOutput, truth: torch.Tensor, masks: torch.Tensor) -> LossTerms:
    """truth and masks (B,K,H,W); slots whose rough mask is empty are left out."""
    valid = (masks.flatten(2).amax(-1) > 0).to(truth.dtype)
    truth4 = F.adaptive_avg_pool2d(truth, out.logits4.shape[-2:])
    truth8 = F.adaptive_avg_pool2d(truth, out.logits8.shape[-2:])
    terms = {
        "l1": _l1(out.alpha, truth),
        "l1_4": _l1(torch.sigmoid(out.logits4), truth4),
        "l1_8": _l1(torch.sigmoid(out.logits8), truth8),
        "laplacian": laplacian_loss(out.alpha, truth),
        "gradient": gradient_loss(out.alpha, truth),
        "attn": attention_loss(out.attn, truth8),
    }
    reduced = {k: _masked_mean(v, valid) for k, v in terms.items()}
    total = sum(WEIGHTS[k] * v for k, v in reduced.items())
    return LossTerms(total, {k: float(v.detach()) for k, v in reduced.items()})
