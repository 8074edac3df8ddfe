"""Matrix-free matting Laplacian (Levin et al. closed-form matting) and its constrained solve.

Why matrix-free: the sparse Laplacian of a 4K frame has ~8e6 x 25 entries and is built on the
CPU by pymatting; here ``L @ p`` is evaluated with box sums only (He et al., "Fast matting using
large kernel matting Laplacian matrices", CVPR 2010), so memory is a few images' worth, the
window radius costs nothing extra, and the same torch code runs on CPU and CUDA.

Windows: one window of radius ``r`` centred on every pixel, clipped to the image; window ``k``
with ``n_k`` pixels contributes ``L_k = I - (1 + (I_i-mu_k)^T D_k (I_j-mu_k)) / n_k`` where
``D_k = (Sigma_k + eps/n_k)^-1``. Clipped windows keep ``L`` exactly symmetric positive
semi-definite (what conjugate gradient needs), unlike a normalised border.

Precision: window statistics are computed in float64. With Levin's eps (1e-7) a flat window's
inverse covariance reaches ~1e8, so float32 rounding in ``mean(I p) - mu mean(p)`` (~1e-8) would
become an O(1) error in the window coefficients (NaNs and blotches, measured); the CG iterations
run in float32 through :class:`CentredLaplacian`, which never forms that difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vfxmatte.refine import sym3
from vfxmatte.refine.band_solve import solve_alpha_band
from vfxmatte.refine.cg import conjugate_gradient
from vfxmatte.refine.filters import box_sum, sample_at, source_positions
from vfxmatte.refine.tiling import feather, iter_active_tiles


def window_stats(img: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixels ``n`` (H,W), colour mean (..., 3, H, W) and covariance (..., 6, H, W) of every
    (2r+1)^2 window centred on a pixel, clipped to the image (the closed-form model's windows)."""
    h, w = img.shape[-2:]
    n = box_sum(torch.ones((1, h, w), dtype=img.dtype, device=img.device), radius)[0]
    mu = box_sum(img, radius) / n
    cov = box_sum(sym3.outer_upper(img, img), radius) / n - sym3.outer_upper(mu, mu)
    return n, mu, cov


@dataclass
class MattingLaplacian:
    """Per-window statistics that define ``L`` for one image (or a batch of tiles).

    ``image`` is (..., 3, H, W); every leading index is an independent image with its own ``L``
    (windows clipped to its borders), which is how all active tiles are solved in one batch.
    """

    image: torch.Tensor  # (..., 3, H, W)
    radius: int
    n: torch.Tensor  # (H, W) pixels per (clipped) window
    mu: torch.Tensor  # (..., 3, H, W) window means
    delta: torch.Tensor  # (..., 6, H, W) (Sigma + eps/n)^-1, upper entries
    count: torch.Tensor  # (H, W) number of windows covering each pixel

    @classmethod
    def build(cls, image: torch.Tensor, radius: int = 1, eps: float = 1e-7) -> MattingLaplacian:
        """Window statistics of ``image`` (..., 3, H, W). eps regularises flat windows (1e-7)."""
        img = image.to(torch.float64) if image.dtype != torch.float64 else image
        n, mu, cov = window_stats(img, radius)
        delta = sym3.inverse(cov + sym3.identity(1.0, img) * (eps / n))
        return cls(img, radius, n, mu, delta, n.clone())

    def matvec(self, p: torch.Tensor) -> torch.Tensor:
        """``L @ p`` for p (..., H, W) matching (or broadcasting against) the image's batch."""
        r = self.radius
        ip = self.image * p.unsqueeze(-3)  # (..., 3, H, W)
        # window sums of p and of I*p in one box-sum call
        sums = box_sum(torch.cat([p.unsqueeze(-3).expand_as(ip[..., :1, :, :]), ip], -3), r)
        sums = sums / self.n
        pbar, ipbar = sums[..., 0, :, :], sums[..., 1:, :, :]
        a = sym3.matvec(self.delta, ipbar - self.mu * pbar.unsqueeze(-3))  # (..., 3, H, W)
        b = pbar - (a * self.mu).sum(-3)
        ab = box_sum(torch.cat([a, b.unsqueeze(-3)], -3), r)
        return self.count * p - (ab[..., :3, :, :] * self.image).sum(-3) - ab[..., 3, :, :]

    def diagonal(self) -> torch.Tensor:
        """Diagonal of ``L`` (..., H, W), for the Jacobi preconditioner."""
        r = self.radius
        inv_n = (1.0 / self.n).expand_as(self.mu[..., 0, :, :])
        d_n = self.delta * inv_n.unsqueeze(-3)
        dmu = sym3.matvec(self.delta, self.mu)
        mdm = (dmu * self.mu).sum(-3)
        stacked = torch.cat(
            [inv_n.unsqueeze(-3), d_n, dmu * inv_n.unsqueeze(-3), (mdm * inv_n).unsqueeze(-3)], -3
        )
        sums = box_sum(stacked, r)
        s_inv_n, s_d = sums[..., 0, :, :], sums[..., 1:7, :, :]
        s_dmu, s_mdm = sums[..., 7:10, :, :], sums[..., 10, :, :]
        quad = (sym3.matvec(s_d, self.image) * self.image).sum(-3)
        cross = (s_dmu * self.image).sum(-3)
        return self.count - s_inv_n - (quad - 2 * cross + s_mdm)


@dataclass
class CentredLaplacian:
    """``L`` applied in float32 from per-window, per-offset centred colours (no cancellation).

    Why: the box-sum form needs ``mean(I p) - mu mean(p)``, whose float32 rounding (~1e-7) is
    multiplied by ``D_k`` (up to n/eps ~ 1e8 in flat or two-colour windows): O(1) errors. Here
    the window coefficients are ``c_k = sum_d G_dk p_(k+d)`` with ``G_dk = D_k (I_(k+d) - mu_k)
    / n_k`` computed once in float64: ``D_k`` only ever meets vectors in the range of the
    window's covariance, so ``G`` is moderate and float32 keeps ~1e-5 relative accuracy. Then
    ``(L p)_i = count_i p_i - sum_d (c_(i-d) . C_d(i-d) + mean_(i-d) p)``. It reads 54 planes
    per pixel and is ~3x faster on CPU than the float64 box-sum form (and float32 is what GPUs
    are fast at).
    """

    radius: int
    offsets: list[tuple[int, int]]
    centred: torch.Tensor  # (..., (2r+1)^2, 3, H, W) I_(k+d) - mu_k, zero outside the image
    gain: torch.Tensor  # (..., (2r+1)^2, 3, H, W) D_k C_dk / n_k
    inv_n: torch.Tensor  # (H, W)
    count: torch.Tensor  # (H, W)
    diag: torch.Tensor  # (..., H, W) float64 diagonal of L, for the Jacobi preconditioner

    @classmethod
    def from_laplacian(
        cls, lap: MattingLaplacian, dtype: torch.dtype = torch.float32
    ) -> CentredLaplacian:
        """The operator for ``lap``'s windows; also fills :attr:`diag` (Jacobi)."""
        r = lap.radius
        h, w = lap.image.shape[-2:]
        offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
        padded = F.pad(lap.image, (r, r, r, r))
        inside = F.pad(torch.ones_like(lap.n), (r, r, r, r))
        shape = (*lap.mu.shape[:-3], len(offsets), 3, h, w)
        centred = torch.empty(shape, dtype=dtype, device=lap.image.device)
        gain = torch.empty(shape, dtype=dtype, device=lap.image.device)
        inv_n = 1.0 / lap.n
        # diagonal: L_ii = sum over windows k containing i of 1 - (1 + C^T D C) / n_k
        acc = torch.zeros_like(F.pad(lap.mu[..., 0, :, :], (r, r, r, r)))
        for j, (dy, dx) in enumerate(offsets):
            sl = (..., slice(r + dy, r + dy + h), slice(r + dx, r + dx + w))
            c = (padded[sl] - lap.mu) * inside[sl]
            g = sym3.matvec(lap.delta, c) * inv_n
            centred[..., j, :, :, :] = c
            gain[..., j, :, :, :] = g
            acc[sl] += ((g * c).sum(-3) + inv_n) * inside[sl]
        diag = lap.count - acc[..., r : r + h, r : r + w]
        return cls(r, offsets, centred, gain, inv_n.to(dtype), lap.count.to(dtype), diag)

    def matvec(self, p: torch.Tensor) -> torch.Tensor:
        """``L @ p`` for p (..., H, W) in this operator's dtype."""
        r = self.radius
        h, w = p.shape[-2:]
        padded = F.pad(p, (r, r, r, r))
        mean = torch.zeros_like(p)
        coef = torch.zeros_like(self.centred[..., 0, :, :, :])
        for j, (dy, dx) in enumerate(self.offsets):
            shifted = padded[..., r + dy : r + dy + h, r + dx : r + dx + w]
            mean += shifted
            coef.addcmul_(self.gain[..., j, :, :, :], shifted.unsqueeze(-3))
        mean *= self.inv_n
        acc = torch.zeros_like(padded)
        c0, c1, c2 = coef.unbind(-3)
        for j, (dy, dx) in enumerate(self.offsets):
            d0, d1, d2 = self.centred[..., j, :, :, :].unbind(-3)
            term = torch.addcmul(mean, c0, d0).addcmul_(c1, d1).addcmul_(c2, d2)
            acc[..., r + dy : r + dy + h, r + dx : r + dx + w] += term
        return self.count * p - acc[..., r : r + h, r : r + w]


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
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Closed-form matting with hard constraints, by Jacobi-preconditioned conjugate gradient.

    Minimises ``a^T L a + sum w (a - prior)^2`` over the unknown pixels (``known == 0``) with
    ``a = alpha_known`` fixed where ``known == 1``. ``init`` (e.g. an upsampled coarse solution)
    starts CG close to the answer so few iterations refine it. Known pixels may carry fractional
    values (tile borders pinned to a coarser solution).
    All tensors may carry leading batch dims (independent tiles). ``dtype`` is the precision of
    the CG iterations (float32 through :class:`CentredLaplacian`, or float64 with the box-sum
    form); window statistics are always computed in float64. Returns alpha in [0,1].
    """
    f64 = torch.float64
    unknown64 = (known < 0.5).to(f64)
    if not bool(unknown64.any()):
        return (alpha_known.to(f64) * (1 - unknown64)).clamp(0, 1).to(image.dtype)
    lap = MattingLaplacian.build(image, radius, eps)
    dt = dtype
    if dt == f64:
        operator, diag = lap, lap.diagonal()
    else:
        operator = CentredLaplacian.from_laplacian(lap, dt)
        diag = operator.diag
    del lap
    pw = prior_weight.to(f64) if torch.is_tensor(prior_weight) else float(prior_weight)
    precond = (diag + unknown64 * pw).clamp_min(1e-6) * unknown64 + (1 - unknown64)
    unknown = unknown64.to(dt)
    inv_m = (unknown64 / precond).to(dt)
    base = alpha_known.to(dt) * (1 - unknown)
    w = unknown * (pw.to(dt) if torch.is_tensor(pw) else pw)
    x = (init.to(dt) if init is not None else base.clone()) * unknown
    pr = prior.to(dt) if prior is not None else torch.zeros_like(base)
    rhs = -operator.matvec(base) * unknown + w * pr

    def op(v: torch.Tensor) -> torch.Tensor:
        return operator.matvec(v * unknown) * unknown + w * v

    x = conjugate_gradient(op, rhs, x, inv_m, iters, tol)
    return (base + x * unknown).clamp(0, 1).to(image.dtype)


def downsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Shrink (..., H, W) by ``factor`` x ``factor`` averaging (partial edge blocks averaged)."""
    h, w = x.shape[-2:]
    lead = x.shape[:-2]
    y = F.avg_pool2d(x.reshape(-1, 1, h, w), factor, ceil_mode=True)
    return y.reshape(*lead, *y.shape[-2:])


def upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (..., h, w) to ``size``."""
    lead = x.shape[:-2]
    y = F.interpolate(
        x.reshape(-1, 1, *x.shape[-2:]), size=size, mode="bilinear", align_corners=False
    )
    return y.reshape(*lead, *size)


def linear_model(
    alpha: torch.Tensor, image: torch.Tensor, radius: int = 1, eps: float = 1e-4
) -> torch.Tensor:
    """Per-pixel local linear model ``a = c.I + d`` of ``alpha`` by ``image`` (..., 4, H, W).

    The closed-form model's windows (a guided filter of the alpha by the image): ``(c, d)`` is
    fitted in every window and averaged over the windows that hold each pixel. Leading dims of
    ``image`` (..., 3, H, W) and ``alpha`` (..., H, W) are independent crops.
    """
    f64 = torch.float64
    img = image.to(f64)
    al = alpha.to(f64)
    n, mu, cov = window_stats(img, radius)
    ma = box_sum(al, radius) / n
    cia = box_sum(img * al.unsqueeze(-3), radius) / n - mu * ma.unsqueeze(-3)
    coef = sym3.matvec(sym3.inverse(cov + sym3.identity(eps, img)), cia)
    offset = ma - (coef * mu).sum(-3)
    return box_sum(torch.cat([coef, offset.unsqueeze(-3)], -3), radius) / n


# side of the coarse tiles on which :func:`linear_upsample` fits its model when only a band of
# the finer level is wanted, and the pixels of such tiles fitted at once (~30 float64 planes of
# this size: 32 MiB; the 4K band needs ~0.5 M pixels of tiles)
UPSAMPLE_TILE = 64
UPSAMPLE_BATCH_PIXELS = 1 << 17


def linear_upsample(
    alpha: torch.Tensor,
    image: torch.Tensor,
    fine_image: torch.Tensor,
    radius: int = 1,
    eps: float = 1e-4,
    where: torch.Tensor | None = None,
) -> torch.Tensor:
    """Carry a coarse alpha (h,w) to a finer level through its local linear model ``a = c.I + d``.

    Why: the matting Laplacian's solutions are locally affine in the colours, so fitting
    ``(c, d)`` per coarse window (:func:`linear_model`) and applying the upsampled coefficients
    to the *fine* image puts the edges where the fine image has them. Bilinear upsampling blurs
    them instead, and CG then spends its iterations moving them back.
    ``where`` (fine (H,W) bool) evaluates only those pixels (the unknown band; 0 elsewhere), and
    the model is then fitted only on the coarse tiles those pixels sample from, so at 4K the
    cost follows the band, not the region of interest.
    """
    f64 = torch.float64
    size = fine_image.shape[-2:]
    if where is None:
        up = upsample(linear_model(alpha, image, radius, eps), size)
        out = (up[:3] * fine_image.to(f64)).sum(0) + up[3]
        return out.clamp(0, 1).to(alpha.dtype)
    ys, xs = torch.nonzero(where, as_tuple=True)
    out = torch.zeros(size, dtype=alpha.dtype, device=alpha.device)
    if ys.numel() == 0:
        return out
    # bilinear sampling at the same source positions as F.interpolate(align_corners=False)
    sy, sx = source_positions(ys, xs, alpha.shape[-2:], size, f64)
    sampled = sample_at(_band_model(alpha, image, radius, eps, sy, sx), sy, sx)  # (4, N)
    values = (sampled[:3] * fine_image[:, ys, xs].to(f64)).sum(0) + sampled[3]
    out[ys, xs] = values.clamp(0, 1).to(alpha.dtype)
    return out


def _band_model(alpha, image, radius, eps, sy, sx) -> torch.Tensor:
    """:func:`linear_model` (4,h,w), computed only on the coarse tiles that hold the sampling
    positions (sy, sx) and their bilinear neighbours (zero elsewhere).

    Tiles are cut with a halo of ``2 * radius`` (the model is a box sum of box-sum statistics),
    all the same size (shifted inwards at the image border, where the crop edge is the image
    edge and the clipped windows are exact), so they go through one batched computation.
    """
    h, w = alpha.shape[-2:]
    t, halo = UPSAMPLE_TILE, 2 * radius
    need = torch.zeros((h, w), dtype=torch.bool, device=alpha.device)
    y0, x0 = sy.floor().long(), sx.floor().long()
    for dy in (0, 1):
        for dx in (0, 1):
            need[(y0 + dy).clamp(max=h - 1), (x0 + dx).clamp(max=w - 1)] = True
    ty, tx = (h + t - 1) // t, (w + t - 1) // t
    active = F.pad(need, (0, tx * t - w, 0, ty * t - h)).view(ty, t, tx, t).any(3).any(1)
    boxes = torch.nonzero(active).tolist()
    ch, cw = min(h, t + 2 * halo), min(w, t + 2 * halo)
    crops = []
    for by, bx in boxes:
        cy = min(max(0, by * t - halo), h - ch)
        cx = min(max(0, bx * t - halo), w - cw)
        crops.append((cy, cx))
    model = torch.zeros((4, h, w), dtype=torch.float64, device=alpha.device)
    per_batch = max(1, UPSAMPLE_BATCH_PIXELS // (ch * cw))
    for start in range(0, len(crops), per_batch):
        part = crops[start : start + per_batch]
        imgs = torch.stack([image[:, cy : cy + ch, cx : cx + cw] for cy, cx in part])
        als = torch.stack([alpha[cy : cy + ch, cx : cx + cw] for cy, cx in part])
        fitted = linear_model(als, imgs, radius, eps)
        for k, ((by, bx), (cy, cx)) in enumerate(zip(boxes[start:], part, strict=False)):
            yy0, yy1 = by * t, min(h, (by + 1) * t)
            xx0, xx1 = bx * t, min(w, (bx + 1) * t)
            model[:, yy0:yy1, xx0:xx1] = fitted[k, :, yy0 - cy : yy1 - cy, xx0 - cx : xx1 - cx]
    return model


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
    tile: int = 64,
    overlap: int = 16,
    upsample_eps: float = 1e-4,
    top_iters: int | Sequence[int] | None = None,
    solver: str = "band",
) -> torch.Tensor:
    """Coarse-to-fine solve: full CG at the coarsest level, refinement CG at each finer one.

    Why: CG on the matting Laplacian propagates information about ``radius`` pixels per
    iteration, so a wide unknown band needs hundreds of iterations at full resolution; solving
    at 1/2^k first makes the fine levels only refine edges. Each coarse solution reaches the
    next level through its local linear model (:func:`linear_upsample`), which already puts
    edges where the finer image has them. A coarse pixel is known only if all its fine pixels
    are known with the same value. ``top_iters`` (default ``fine_iters``) is the iteration
    count at the finest level, or a sequence of counts for the finest levels from the top down:
    the engine lowers them for 4K frames, where the edges are placed by the levels below and
    each iteration costs 4x as much as one level down; 0 keeps the upsampled solution.

    ``solver``: "band" solves each level as one sparse system over its unknown band
    (:func:`vfxmatte.refine.band_solve.solve_alpha_band`: cost follows the band, no seams);
    "tiled" refines the finer levels in overlapping tiles pinned to the coarser solution
    (:func:`solve_alpha_tiled`, the matrix-free form, which the band form replaced as the
    default: about half the solve's CPU time on a 4K frame, dev-sets figures as good or better,
    docs/benchmarks.md).
    """
    if solver not in ("band", "tiled"):
        raise ValueError(f"solver must be 'band' or 'tiled', not {solver!r}")
    if top_iters is None:
        top_iters = ()
    elif isinstance(top_iters, int):
        top_iters = (top_iters,)
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
    coarse_img = None
    for depth, (img, kn, ak, pr, pw) in enumerate(reversed(levels)):
        if alpha is not None:
            init = linear_upsample(alpha, coarse_img, img, radius, upsample_eps, kn < 0.5)
        else:
            init = pr
        if depth == 0:
            solve = solve_alpha_band if solver == "band" else solve_alpha
            alpha = solve(img, kn, ak, init, pr, pw, radius, eps, coarse_iters, tol)
        else:
            from_top = len(levels) - 1 - depth
            iters = top_iters[from_top] if from_top < len(top_iters) else fine_iters
            if iters > 0 and solver == "band":
                alpha = solve_alpha_band(img, kn, ak, init, pr, pw, radius, eps, iters, tol)
            elif iters > 0:
                alpha = solve_alpha_tiled(
                    img, kn, ak, init, pr, pw, radius, eps, iters, tol, tile, overlap
                )
            else:
                alpha = torch.where(kn > 0.5, ak, init)
        coarse_img = img
    return alpha


# Pixels of tiles solved in one batch: bounds the solver's memory (about 60 float64 planes of
# this size) whatever the frame size.
TILE_BATCH_PIXELS = 1 << 19


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
    tile: int = 64,
    overlap: int = 16,
    batch_pixels: int = TILE_BATCH_PIXELS,
) -> torch.Tensor:
    """Refine ``init`` in small overlapping tiles that hold unknown pixels, feather-blended.

    Each tile is solved with its unknown border pixels pinned to ``init`` (the upsampled coarser
    solution), so tiles agree up to the refinement and the overlap cross-fade hides the rest.
    Small tiles hug the unknown band, so cost follows the band, not the frame; all tiles of a
    batch go through one batched CG (one set of tensor ops per iteration, not one per tile),
    and batches of ``batch_pixels`` bound the memory.
    """
    h, w = known.shape
    unknown = known < 0.5
    base = torch.where(unknown, init, alpha_known)
    acc = torch.zeros_like(base)
    wsum = torch.zeros_like(base)
    boxes = list(iter_active_tiles(unknown, tile, overlap))
    if not boxes:
        return base
    th, tw = boxes[0][1] - boxes[0][0], boxes[0][3] - boxes[0][2]
    per_batch = max(1, batch_pixels // (th * tw))
    for start in range(0, len(boxes), per_batch):
        chunk = boxes[start : start + per_batch]
        sls = [(slice(y0, y1), slice(x0, x1)) for y0, y1, x0, x1 in chunk]
        kn = torch.stack([known[sl] for sl in sls])
        ak = torch.stack([base[sl] for sl in sls])
        for k, (y0, y1, x0, x1) in enumerate(chunk):
            # pin the tile's outer ring (inside the frame) to the coarser solution
            if y0 > 0:
                kn[k, :radius, :] = 1.0
            if y1 < h:
                kn[k, -radius:, :] = 1.0
            if x0 > 0:
                kn[k, :, :radius] = 1.0
            if x1 < w:
                kn[k, :, -radius:] = 1.0
        imgs = torch.stack([image[:, sl[0], sl[1]] for sl in sls])
        ini = torch.stack([init[sl] for sl in sls])
        pr = torch.stack([prior[sl] for sl in sls]) if prior is not None else None
        pw = (
            torch.stack([prior_weight[sl] for sl in sls])
            if torch.is_tensor(prior_weight)
            else prior_weight
        )
        a = solve_alpha(imgs, kn, ak, ini, pr, pw, radius, eps, iters, tol)
        for k, (box, sl) in enumerate(zip(chunk, sls, strict=True)):
            wt = feather(box, h, w, overlap, device=a.device, dtype=a.dtype)
            acc[sl] += a[k] * wt
            wsum[sl] += wt
    covered = wsum > 0
    out = torch.where(covered, acc / wsum.clamp_min(1e-12), base)
    return torch.where(unknown, out, alpha_known)
