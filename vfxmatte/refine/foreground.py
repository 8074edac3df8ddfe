"""Foreground colour estimation for premultiplied per-person colour layers.

Premultiplying the plate by alpha leaves the background's colour in every soft pixel (dark or
green fringes, "halos"). Instead the foreground colour F is solved from I = a F + (1 - a) B with
smoothness on F and B that is weaker across alpha edges: the multi-level method of Germer et al.
(2020), as pymatting's ``estimate_foreground_ml``, written here as vectorised (Jacobi) torch so
it runs on CPU and CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    lead = x.shape[:-2]
    y = F.interpolate(
        x.reshape(1, -1, *x.shape[-2:]), size=size, mode="bilinear", align_corners=False
    )
    return y.reshape(*lead, *size)


def _neighbour_step(
    image: torch.Tensor,
    alpha: torch.Tensor,
    fg: torch.Tensor,
    bg: torch.Tensor,
    reg: float,
    omega: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Jacobi sweep of the per-pixel 2x2 least-squares system for (F, B)."""
    a = alpha
    pad_a = F.pad(a[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    pad_f = F.pad(fg[None], (1, 1, 1, 1), mode="replicate")[0]
    pad_b = F.pad(bg[None], (1, 1, 1, 1), mode="replicate")[0]
    h, w = a.shape
    valid = F.pad(torch.ones_like(a)[None, None], (1, 1, 1, 1))[0, 0]
    wsum = torch.zeros_like(a)
    fsum = torch.zeros_like(fg)
    bsum = torch.zeros_like(bg)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        an = pad_a[dy : dy + h, dx : dx + w]
        wn = (reg + omega * (a - an).abs()) * valid[dy : dy + h, dx : dx + w]
        wsum = wsum + wn
        fsum = fsum + wn * pad_f[:, dy : dy + h, dx : dx + w]
        bsum = bsum + wn * pad_b[:, dy : dy + h, dx : dx + w]
    a00 = a * a + wsum
    a01 = a * (1 - a)
    a11 = (1 - a) * (1 - a) + wsum
    det = (a00 * a11 - a01 * a01).clamp_min(1e-12)
    r0 = a * image + fsum
    r1 = (1 - a) * image + bsum
    fg_new = (a11 * r0 - a01 * r1) / det
    bg_new = (a00 * r1 - a01 * r0) / det
    return fg_new.clamp(0, 1), bg_new.clamp(0, 1)


def estimate_foreground(
    image: torch.Tensor,
    alpha: torch.Tensor,
    reg: float = 1e-5,
    omega: float = 1.0,
    small_size: int = 32,
    small_iters: int = 10,
    big_iters: int = 2,
    return_background: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Foreground colour (3,H,W) of ``image`` (3,H,W) under ``alpha`` (H,W), both in [0,1].

    Multi-level: solved from a 1x1 image up to full size, each level initialised from the one
    below, so colour spreads far into transparent regions in a few sweeps per level; ``reg`` is
    the smoothness everywhere, ``omega`` the extra coupling where alpha changes between neighbours
    (pymatting's defaults). Values outside [0, 1] are clamped (plates above 1 should be
    handled by the caller, e.g. by estimating on a tone-mapped copy).
    """
    img = image.float().clamp(0, 1)
    a = alpha.float().clamp(0, 1)
    h, w = a.shape
    levels = max(1, math.ceil(math.log2(max(h, w))))
    fg = img.mean((1, 2), keepdim=True).expand(3, 1, 1).clone()
    bg = fg.clone()
    for lvl in range(levels + 1):
        size = (max(1, round(h ** (lvl / levels))), max(1, round(w ** (lvl / levels))))
        img_l = _resize(img, size)
        a_l = _resize(a[None], size)[0]
        fg = _resize(fg, size)
        bg = _resize(bg, size)
        iters = small_iters if min(size) <= small_size else big_iters
        for _ in range(iters):
            fg, bg = _neighbour_step(img_l, a_l, fg, bg, reg, omega)
    if return_background:
        return fg, bg
    return fg


def premultiplied_foreground(
    rgb: np.ndarray, alpha: np.ndarray, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Premultiplied foreground colour (H,W,3) of a plate (any colour encoding) under ``alpha``.

    The estimate is linear in the image for a given alpha, so a scene-linear plate is scaled
    into [0, 1] for the solve and back afterwards: values above 1 survive (only negative
    values are clipped). Multiplying the estimated foreground, rather than the plate, by alpha
    is what removes the dark or background-coloured fringe from soft edges.
    """
    scale = max(1.0, float(np.max(rgb))) if rgb.size else 1.0
    image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1) / scale)).to(device)
    a = torch.from_numpy(np.ascontiguousarray(alpha)).to(device)
    fg = estimate_foreground(image.float(), a.float())
    out = (fg * a.float() * scale).permute(1, 2, 0).cpu().numpy()
    return out.astype(np.float32)
