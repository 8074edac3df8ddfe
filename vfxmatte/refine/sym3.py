"""Per-pixel symmetric 3x3 matrices (colour covariances) stored as (..., 6, H, W) upper entries.

Why a layout of six planes: the matting Laplacian, the guided-filter upsampling and the trimap's
colour models all need a 3x3 covariance per pixel; six planes (not (H, W, 3, 3)) halve the memory
and let the closed-form adjugate replace batched ``torch.linalg`` calls.
"""

from __future__ import annotations

import torch

UPPER = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # plane order: a b c d e f


def adjugate(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjugate (..., 6, H, W) and determinant (..., H, W) of [[a b c],[b d e],[c e f]]."""
    a, b, c, d, e, f = m.unbind(-3)
    A = d * f - e * e
    B = c * e - b * f
    C = b * e - c * d
    D = a * f - c * c
    E = b * c - a * e
    Fm = a * d - b * b
    return torch.stack([A, B, C, D, E, Fm], -3), a * A + b * B + c * C


def inverse(m: torch.Tensor) -> torch.Tensor:
    """Inverse of (..., 6, H, W) symmetric matrices, in the same layout."""
    adj, det = adjugate(m)
    return adj * (1.0 / det).unsqueeze(-3)


def matvec(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(..., 6, H, W) symmetric 3x3 times (..., 3, H, W) vectors (leading dims broadcast)."""
    a, b, c, d, e, f = m.unbind(-3)
    x, y, z = v.unbind(-3)
    return torch.stack([a * x + b * y + c * z, b * x + d * y + e * z, c * x + e * y + f * z], -3)


def outer_upper(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Upper entries of u v^T for (..., 3, H, W) u and v: products of colour channels."""
    us, vs = u.unbind(-3), v.unbind(-3)
    return torch.stack([us[i] * vs[j] for i, j in UPPER], -3)


def identity(scale: float, like: torch.Tensor) -> torch.Tensor:
    """``scale`` times the identity as (6, 1, 1) planes with ``like``'s dtype and device."""
    eye = torch.zeros(6, 1, 1, dtype=like.dtype, device=like.device)
    eye[[0, 3, 5]] = scale
    return eye
