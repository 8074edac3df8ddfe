"""Preconditioned conjugate gradient on batches of independent systems (torch, any device).

Shared by the matrix-free tiled solve (:mod:`vfxmatte.refine.laplacian`) and the sparse band
solve (:mod:`vfxmatte.refine.band_solve`).
"""

from __future__ import annotations

import torch


def conjugate_gradient(
    op, rhs: torch.Tensor, x: torch.Tensor, inv_m: torch.Tensor, iters: int, tol: float
) -> torch.Tensor:
    """Preconditioned CG for the SPD ``op`` on (..., H, W): one independent system per leading
    index (a batch of tiles), each with its own step sizes; a system stops moving once its
    relative residual is below ``tol``, and the loop ends when all have."""
    dims = (-2, -1)

    def dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum(dims, keepdim=True)

    r = rhs - op(x)
    z = inv_m * r
    p = z.clone()
    rz = dot(r, z)
    norm_b = dot(rhs, rhs).sqrt().clamp_min(1e-12)
    for it in range(iters):
        running = (dot(r, r).sqrt() / norm_b) >= tol
        if it % 4 == 0 and not bool(running.any()):
            break
        ap = op(p)
        step = torch.where(running, rz / dot(p, ap).clamp_min(1e-30), 0.0)
        x = x + step * p
        r = r - step * ap
        z = inv_m * r
        rz_new = dot(r, z)
        p = z + (rz_new / rz.clamp_min(1e-30)) * p
        rz = rz_new
    return x
