"""Matrix-free matting Laplacian (Levin et al. closed-form matting) and its constrained solve.

Why matrix-free: the sparse Laplacian of a 4K frame has ~8e6 x 25 entries and is built on the
CPU by pymatting; here ``L @ p`` is evaluated with box sums only (He et al., "Fast matting using
large kernel matting Laplacian matrices", CVPR 2010), so memory is a few images' worth, the
window radius costs nothing extra, and the same torch code runs on CPU and CUDA.

Windows: one window of radius ``r`` centred on every pixel, clipped to the image; window ``k``
with ``n_k`` pixels contributes ``L_k = I - (1 + (I_i-mu_k)^T D_k (I_j-mu_k)) / n_k`` where
``D_k = (Sigma_k + eps/n_k)^-1``. Clipped windows keep ``L`` exactly symmetric positive
semi-definite (what conjugate gradient needs), unlike a normalised border.

Precision: the solve runs in float64. With Levin's eps (1e-7) a flat window's inverse covariance
reaches ~1e8, so float32 rounding in ``mean(I p) - mu mean(p)`` (~1e-8) becomes an O(1) error in
the window coefficients (NaNs and blotches, measured); float64 removes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vfxmatte.refine.filters import box_sum
from vfxmatte.refine.tiling import feather, iter_active_tiles

_UPPER = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def _sym3_inverse(c: torch.Tensor) -> torch.Tensor:
    """Inverse of per-pixel symmetric 3x3 matrices stored as (6, H, W) upper entries.

    Closed-form adjugate: cheaper than batched ``torch.linalg.inv`` and needs no (H,W,3,3)
    layout (half the memory).
    """
    a, b, c_, d, e, f = c  # [[a b c],[b d e],[c e f]]
    A = d * f - e * e
    B = c_ * e - b * f
    C = b * e - c_ * d
    D = a * f - c_ * c_
    E = b * c_ - a * e
    Fm = a * d - b * b
    det = a * A + b * B + c_ * C
    inv_det = 1.0 / det
    return torch.stack([A, B, C, D, E, Fm]) * inv_det


def _sym_matvec(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(6,H,W) symmetric 3x3 times (3,H,W) vectors."""
    a, b, c, d, e, f = m
    x, y, z = v
    return torch.stack([a * x + b * y + c * z, b * x + d * y + e * z, c * x + e * y + f * z])


@dataclass
class MattingLaplacian:
    """Per-window statistics that define ``L`` for one image; apply with :meth:`matvec`."""

    image: torch.Tensor  # (3,H,W)
    radius: int
    n: torch.Tensor  # (H,W) pixels per (clipped) window
    mu: torch.Tensor  # (3,H,W) window means
    delta: torch.Tensor  # (6,H,W) (Sigma + eps/n)^-1, upper entries
    count: torch.Tensor  # (H,W) number of windows covering each pixel

    @classmethod
    def build(cls, image: torch.Tensor, radius: int = 1, eps: float = 1e-7) -> MattingLaplacian:
        """Window statistics of ``image`` (3,H,W). eps regularises flat windows (Levin: 1e-7)."""
        img = image.to(torch.float64) if image.dtype != torch.float64 else image
        h, w = img.shape[-2:]
        ones = torch.ones((1, h, w), dtype=img.dtype, device=img.device)
        n = box_sum(ones, radius)[0]
        mu = box_sum(img, radius) / n
        prods = torch.stack([img[i] * img[j] for i, j in _UPPER])
        cov = box_sum(prods, radius) / n
        cov = cov - torch.stack([mu[i] * mu[j] for i, j in _UPPER])
        reg = eps / n
        cov[0] += reg
        cov[3] += reg
        cov[5] += reg
        delta = _sym3_inverse(cov)
        return cls(img, radius, n, mu, delta, n.clone())

    def matvec(self, p: torch.Tensor) -> torch.Tensor:
        """``L @ p`` for p (H,W) or a batch (B,H,W)."""
        r = self.radius
        single = p.dim() == 2
        pb = p.unsqueeze(0) if single else p
        bsz = pb.shape[0]
        # window sums of p and of I*p, for all batch items in one box-sum call
        ip = self.image.unsqueeze(0) * pb.unsqueeze(1)  # (B,3,H,W)
        stacked = torch.cat([pb.unsqueeze(1), ip], 1).reshape(bsz * 4, *pb.shape[-2:])
        sums = box_sum(stacked, r).reshape(bsz, 4, *pb.shape[-2:]) / self.n
        pbar, ipbar = sums[:, 0], sums[:, 1:]
        cov_ip = ipbar - self.mu.unsqueeze(0) * pbar.unsqueeze(1)
        a = torch.stack([_sym_matvec(self.delta, cov_ip[i]) for i in range(bsz)])  # (B,3,H,W)
        b = pbar - (a * self.mu.unsqueeze(0)).sum(1)
        ab = box_sum(torch.cat([a, b.unsqueeze(1)], 1).reshape(bsz * 4, *pb.shape[-2:]), r)
        ab = ab.reshape(bsz, 4, *pb.shape[-2:])
        q = self.count * pb - (ab[:, :3] * self.image.unsqueeze(0)).sum(1) - ab[:, 3]
        return q[0] if single else q

    def diagonal(self) -> torch.Tensor:
        """Diagonal of ``L`` (H,W), for the Jacobi preconditioner."""
        r = self.radius
        inv_n = 1.0 / self.n
        d_n = self.delta * inv_n
        dmu = _sym_matvec(self.delta, self.mu)
        mdm = (dmu * self.mu).sum(0)
        sums = box_sum(torch.cat([inv_n[None], d_n, dmu * inv_n, (mdm * inv_n)[None]]), r)
        s_inv_n, s_d, s_dmu, s_mdm = sums[0], sums[1:7], sums[7:10], sums[10]
        quad = (_sym_matvec(s_d, self.image) * self.image).sum(0)
        cross = (s_dmu * self.image).sum(0)
        return self.count - s_inv_n - (quad - 2 * cross + s_mdm)


def solve_alpha(
    image: torch.Tensor,
    known: torch.Tensor,
    alpha_known: torch.Tensor,
    init: torch.Tensor | None = None,
    prior: torch.Tensor | None = None,
    prior_weight: torch.Tensor | float = 0.0,
    radius: int = 1,
    eps: float = 1e-7,
    iters: int = 200,
    tol: float = 1e-5,
) -> torch.Tensor:
    """Closed-form matting with hard constraints, by Jacobi-preconditioned conjugate gradient.

    Minimises ``a^T L a + sum w (a - prior)^2`` over the unknown pixels (``known == 0``) with
    ``a = alpha_known`` fixed where ``known == 1``. ``init`` (e.g. an upsampled coarse solution)
    starts CG close to the answer so few iterations refine it. Known pixels may carry fractional
    values (tile borders pinned to a coarser solution).
    Returns (H,W) alpha in [0,1].
    """
    f64 = torch.float64
    lap = MattingLaplacian.build(image, radius, eps)
    unknown = (known < 0.5).to(f64)
    base = alpha_known.to(f64) * (1 - unknown)
    if not bool(unknown.any()):
        return base.clamp(0, 1).to(image.dtype)
    pw = prior_weight.to(f64) if torch.is_tensor(prior_weight) else float(prior_weight)
    w = unknown * pw
    x = (init.to(f64) if init is not None else base.clone()) * unknown
    pr = prior.to(f64) if prior is not None else torch.zeros_like(base)
    rhs = -lap.matvec(base) * unknown + w * pr

    def op(v: torch.Tensor) -> torch.Tensor:
        return lap.matvec(v * unknown) * unknown + w * v

    precond = (lap.diagonal() + w).clamp_min(1e-6) * unknown + (1 - unknown)
    inv_m = unknown / precond
    x = conjugate_gradient(op, rhs, x, inv_m, iters, tol)
    return (base + x * unknown).clamp(0, 1).to(image.dtype)


def conjugate_gradient(
    op, rhs: torch.Tensor, x: torch.Tensor, inv_m: torch.Tensor, iters: int, tol: float
) -> torch.Tensor:
    """Preconditioned CG for the SPD ``op``; stops at relative residual ``tol``."""
    r = rhs - op(x)
    z = inv_m * r
    p = z.clone()
    rz = (r * z).sum()
    norm_b = rhs.norm().clamp_min(1e-12)
    for _ in range(iters):
        if float(r.norm() / norm_b) < tol:
            break
        ap = op(p)
        alpha = rz / (p * ap).sum().clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        z = inv_m * r
        rz_new = (r * z).sum()
        p = z + (rz_new / rz.clamp_min(1e-30)) * p
        rz = rz_new
    return x


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Halve (..., H, W) by 2x2 averaging (odd sizes keep their last row/column)."""
    h, w = x.shape[-2:]
    lead = x.shape[:-2]
    y = F.avg_pool2d(x.reshape(-1, 1, h, w), 2, ceil_mode=True)
    return y.reshape(*lead, *y.shape[-2:])


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (..., h, w) to ``size``."""
    lead = x.shape[:-2]
    y = F.interpolate(
        x.reshape(-1, 1, *x.shape[-2:]), size=size, mode="bilinear", align_corners=False
    )
    return y.reshape(*lead, *size)


def solve_alpha_pyramid(
    image: torch.Tensor,
    known: torch.Tensor,
    alpha_known: torch.Tensor,
    prior: torch.Tensor | None = None,
    prior_weight: torch.Tensor | float = 0.0,
    radius: int = 1,
    eps: float = 1e-7,
    min_side: int = 64,
    coarse_iters: int = 300,
    fine_iters: int = 40,
    tol: float = 1e-4,
    tile: int = 256,
    overlap: int = 32,
) -> torch.Tensor:
    """Coarse-to-fine solve: full CG at the coarsest level, refinement CG at each finer one.

    Why: CG on the matting Laplacian propagates information about ``radius`` pixels per
    iteration, so a wide unknown band needs hundreds of iterations at full resolution; solving
    at 1/2^k first makes the fine levels only refine edges. A coarse pixel is known only if all
    its fine pixels are known with the same value.
    """
    levels = [(image, known, alpha_known, prior, prior_weight)]
    while min(levels[-1][0].shape[-2:]) // 2 >= min_side:
        img, kn, ak, pr, pw = levels[-1]
        fg = (kn * (ak > 0.5)).float()
        bg = (kn * (ak <= 0.5)).float()
        fg_c = -F.max_pool2d(-fg[None, None], 2, ceil_mode=True)[0, 0]
        bg_c = -F.max_pool2d(-bg[None, None], 2, ceil_mode=True)[0, 0]
        pr_c = downsample(pr) if pr is not None else None
        pw_c = downsample(pw) if torch.is_tensor(pw) else pw
        levels.append((downsample(img), ((fg_c + bg_c) > 0.5).float(), fg_c, pr_c, pw_c))
    alpha = None
    for depth, (img, kn, ak, pr, pw) in enumerate(reversed(levels)):
        init = upsample(alpha, img.shape[-2:]) if alpha is not None else None
        if init is None and pr is not None:
            init = pr
        if depth == 0:
            alpha = solve_alpha(img, kn, ak, init, pr, pw, radius, eps, coarse_iters, tol)
        else:
            alpha = solve_alpha_tiled(
                img, kn, ak, init, pr, pw, radius, eps, fine_iters, tol, tile, overlap
            )
    return alpha


def solve_alpha_tiled(
    image: torch.Tensor,
    known: torch.Tensor,
    alpha_known: torch.Tensor,
    init: torch.Tensor,
    prior: torch.Tensor | None,
    prior_weight: torch.Tensor | float,
    radius: int,
    eps: float,
    iters: int,
    tol: float,
    tile: int = 256,
    overlap: int = 32,
) -> torch.Tensor:
    """Refine ``init`` in overlapping tiles that hold unknown pixels, feather-blended.

    Each tile is solved with its unknown border pixels pinned to ``init`` (the upsampled coarser
    solution), so tiles agree up to the refinement and the overlap cross-fade hides the rest.
    Cost and memory follow the unknown band and the tile size, not the frame size.
    """
    h, w = known.shape
    unknown = known < 0.5
    base = torch.where(unknown, init, alpha_known)
    acc = torch.zeros_like(base)
    wsum = torch.zeros_like(base)
    for box in iter_active_tiles(unknown, tile, overlap):
        y0, y1, x0, x1 = box
        sl = (slice(y0, y1), slice(x0, x1))
        kn = known[sl].clone()
        ak = base[sl].clone()
        ring = torch.zeros_like(kn, dtype=torch.bool)
        ring[:radius, :] = y0 > 0
        ring[-radius:, :] |= y1 < h
        ring[:, :radius] |= x0 > 0
        ring[:, -radius:] |= x1 < w
        kn[ring] = 1.0
        pr = prior[sl] if prior is not None else None
        pw = prior_weight[sl] if torch.is_tensor(prior_weight) else prior_weight
        a = solve_alpha(image[:, y0:y1, x0:x1], kn, ak, init[sl], pr, pw, radius, eps, iters, tol)
        wt = feather(box, h, w, overlap, device=a.device, dtype=a.dtype)
        acc[sl] += a * wt
        wsum[sl] += wt
    covered = wsum > 0
    out = torch.where(covered, acc / wsum.clamp_min(1e-12), base)
    return torch.where(unknown, out, alpha_known)
