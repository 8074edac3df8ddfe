"""Split one union alpha (every person a network saw) into one alpha per person, by their masks.

A human-matting network such as RVM mattes *everybody*; the compositor's rough masks say who is
who. Two steps:

* **gate**: each person may only receive alpha near their own mask (the mask dilated by a band,
  then a soft ramp so hair just outside the band fades rather than being cut). People the
  network found but nobody masked fall outside every gate and are removed.
* **share**: where two gates overlap, the union alpha is divided in proportion to edge-aware
  ownership weights: each rough mask smoothed by a guided filter steered by the image, so the
  boundary between two people follows the image's edges rather than the masks' blocky ones.

The shares sum to one wherever any gate is open, so the instance alphas sum to at most the union,
as DESIGN.md's instance-consistency rules require. Ownership is computed at a working resolution
(long side ``work_size``) and upsampled: it only decides who owns a pixel, not its alpha, so a
4K frame costs about what a 1K one does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import guided_blur

from vfxmatte.refine.filters import box_filter, dilate


def _resize(x: torch.Tensor, size: tuple[int, int], binary: bool = False) -> torch.Tensor:
    """(C, H, W) -> (C, *size); area-average down, bilinear up."""
    if tuple(x.shape[-2:]) == size:
        return x
    mode = "area" if size[0] < x.shape[-2] else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x[None], size=size, mode=mode, **kw)[0]


def soft_gates(masks: torch.Tensor, band: int) -> torch.Tensor:
    """(N, h, w) rough masks -> (N, h, w) gates: 1 within ``band`` px of the mask, then a ramp
    to 0 over the next ``band/2`` px."""
    binary = (masks > 0.5).to(masks.dtype)
    grown = dilate(binary, band)
    ramp = max(1, band // 2)
    return (2.0 * box_filter(grown, ramp)).clamp(0.0, 1.0) * (binary.flatten(1).amax(1) > 0).to(
        masks.dtype
    ).view(-1, 1, 1)


def ownership(
    image: torch.Tensor, masks: torch.Tensor, radius: int, temperature: float = 0.02
) -> torch.Tensor:
    """(N, h, w) edge-aware ownership weights in (0, 1] for binary ``masks``.

    Where one mask alone covers a pixel it is that person's. Where rough masks overlap, each
    candidate is scored by how close the pixel's colour is to the local mean colour of that
    person's exclusive pixels (window of ``3 * radius``), so the split lands on colour edges
    (hair against a shirt) rather than on the masks' blocky edges. One guided-filter pass then
    smooths the scores along the image.
    """
    count = masks.sum(0, keepdim=True)
    exclusive = masks * (count == 1)
    window = 3 * radius
    support = box_filter(exclusive, window)  # (N, h, w) fraction of exclusive pixels nearby
    mean = box_filter(exclusive[:, None] * image[None], window) / support[:, None].clamp_min(1e-6)
    dist = (image[None] - mean).square().sum(1)  # (N, h, w)
    dist = torch.where(support > 1e-3, dist, torch.full_like(dist, 3.0))
    score = torch.where(masks > 0, -dist / temperature, torch.full_like(dist, -1e4))
    w = torch.softmax(score, dim=0)
    w = torch.where(count > 1, w, exclusive)
    guide = image.clamp(0.0, 1.0)[None]
    w = guided_blur(guide, w[None], 2 * radius + 1, 1e-3, subsample=2, separable=True)[0]
    return w.clamp(1e-4, 1.0)


def partition_alpha(
    union: torch.Tensor,
    image: torch.Tensor,
    masks: torch.Tensor,
    band_frac: float = 0.03,
    work_size: int = 1024,
) -> torch.Tensor:
    """Split ``union`` (H, W) into (N, H, W) per-person alphas using ``masks`` (N, H, W).

    band_frac: gate band as a fraction of the long side (rough masks are often off by 1-3%).
    An all-zero mask gives an all-zero alpha (the person is absent from this frame).
    """
    n = masks.shape[0]
    h, w = union.shape
    if n == 0:
        return union.new_zeros((0, h, w))
    scale = min(1.0, work_size / max(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small_masks = _resize(masks.to(union.dtype), size)
    small_image = _resize(image.to(union.dtype), size)
    band = max(2, round(band_frac * max(size)))
    gates = soft_gates(small_masks, band)
    if n == 1:
        share = gates
    else:
        own = ownership(small_image, (small_masks > 0.5).to(union.dtype), band)
        weighted = own * gates
        share = weighted / weighted.sum(0, keepdim=True).clamp_min(1e-6)
        share = share * gates.amax(0, keepdim=True)  # closed where no gate is open
    share = _resize(share, (h, w)).clamp(0.0, 1.0)
    return union.unsqueeze(0) * share
