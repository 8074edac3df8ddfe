"""Small device-agnostic tensor filters (pure functions, no state), in the style of kornia."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window via cumulative sums: cost independent of radius.

    x: (..., H, W). Borders use the mean over the part of the window inside the image.
    """
    if radius <= 0:
        return x
    h, w = x.shape[-2:]
    return _cumsum_box(x, radius) / window_count(h, w, radius, x.dtype, x.device)


def window_count(h: int, w: int, radius: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(H, W) number of pixels of each (2r+1)^2 window clipped to the image: the outer product
    of the clipped row and column extents (no second box filter needed)."""

    def extent(n: int) -> torch.Tensor:
        i = torch.arange(n, device=device)
        return ((i + radius).clamp(max=n - 1) - (i - radius).clamp(min=0) + 1).to(dtype)

    return extent(h)[:, None] * extent(w)[None, :]


def _cumsum_box(t: torch.Tensor, radius: int) -> torch.Tensor:
    """Window sums of (..., H, W), zero outside, from cumulative sums: O(1) per pixel."""
    k = 2 * radius + 1
    c = F.pad(t, (radius + 1, radius, radius + 1, radius)).cumsum(-1)
    c = (c[..., k:] - c[..., :-k]).cumsum(-2)
    return c[..., k:, :] - c[..., :-k, :]


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of a (..., H, W) {0,1} mask with a square of side 2r+1."""
    if radius <= 0:
        return mask
    fast = _morph_cpu(mask, radius, cv2.dilate)
    if fast is not None:
        return fast
    return (box_filter(mask.float(), radius) > 1e-6).to(mask.dtype)


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion of a (..., H, W) {0,1} mask with a square of side 2r+1 (pixels outside
    the image count as set: a mask touching the border is not eaten from there)."""
    if radius <= 0:
        return mask
    fast = _morph_cpu(mask, radius, cv2.erode)
    if fast is not None:
        return fast
    return (box_filter(mask.float(), radius) > 1 - 1e-6).to(mask.dtype)


def _morph_cpu(mask: torch.Tensor, radius: int, op) -> torch.Tensor | None:
    """OpenCV's rectangle morphology on a CPU {0,1} mask, or None where it does not apply.

    Why: the box-filter form costs two float cumulative sums of the whole frame (~0.4 s per
    call at 4K on one core, and the guided engine makes dozens per frame); OpenCV's separable
    uint8 min/max is 10-20x faster at the same result. Its default border (outside ignored)
    is the box form's clipped windows. Masks that are not exactly {0,1} (or off the CPU) take
    the torch path, so results never depend on which path ran.
    """
    if mask.device.type != "cpu" or mask.ndim < 2 or mask.numel() == 0:
        return None
    h, w = mask.shape[-2:]
    if mask.dtype == torch.bool:
        planes = mask.contiguous().view(torch.uint8).numpy()  # no copy
    else:
        # a cast, a comparison and a max (not two comparisons, an or and an all over the
        # frame): a value that is not a whole number in 0..255 (NaN included) does not survive
        # the cast unchanged, and the max refuses the rest above 1
        planes = mask.to(torch.uint8).numpy()
        if not np.array_equal(mask.numpy(), planes) or planes.max() > 1:
            return None
    planes = planes.reshape(-1, h, w)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    out = np.empty_like(planes)
    for plane, dst in zip(planes, out, strict=True):
        op(plane, kernel, dst=dst)
    result = torch.from_numpy(out).reshape(mask.shape)
    return result.view(torch.bool) if mask.dtype == torch.bool else result.to(mask.dtype)


def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over a (2r+1)^2 window, zero outside the image: (..., H, W) -> same shape.

    Separable average pooling times the window area: exact (no cumulative-sum cancellation,
    which costs float32 precision on wide frames) and device-agnostic.
    """
    if radius <= 0:
        return x
    if radius <= 3:
        # shifted adds: fewer passes than pooling for the small windows the solver uses
        p = F.pad(x, (radius, radius, radius, radius))
        h, w = x.shape[-2:]
        rows = p[..., 0:h, :]
        for d in range(1, 2 * radius + 1):
            rows = rows + p[..., d : d + h, :]
        out = rows[..., 0:w]
        for d in range(1, 2 * radius + 1):
            out = out + rows[..., d : d + w]
        return out
    if radius > 8:
        # wide windows (colour models): cumulative sums cost O(1) per pixel whatever the radius,
        # where pooling costs O(radius); float64 keeps their cancellation error negligible
        return _cumsum_box(x.to(torch.float64), radius).to(x.dtype)
    k = 2 * radius + 1
    h, w = x.shape[-2:]
    lead = x.shape[:-2]
    y = x.reshape(-1, 1, h, w)
    y = F.avg_pool2d(y, (1, k), stride=1, padding=(0, radius), count_include_pad=True)
    y = F.avg_pool2d(y, (k, 1), stride=1, padding=(radius, 0), count_include_pad=True)
    return (y * (k * k)).reshape(*lead, h, w)


def source_positions(
    ys: torch.Tensor,
    xs: torch.Tensor,
    coarse: tuple[int, int],
    fine: tuple[int, int],
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where fine-grid pixels (ys, xs) of a ``fine`` (H, W) frame sit on a ``coarse`` (h, w) grid:
    the source positions of ``F.interpolate(..., mode="bilinear", align_corners=False)``,
    clamped to the grid (its border behaviour)."""
    (h, w), (big_h, big_w) = coarse, fine
    sy = ((ys.to(dtype) + 0.5) * (h / big_h) - 0.5).clamp(0, h - 1)
    sx = ((xs.to(dtype) + 0.5) * (w / big_w) - 0.5).clamp(0, w - 1)
    return sy, sx


def sample_at(planes: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
    """(C, h, w) planes sampled bilinearly at grid positions (sy, sx): (C, N).

    With :func:`source_positions` this equals upsampling the whole map with ``F.interpolate``
    and indexing the pixels, at the cost of the pixels asked for (a band, not a frame).
    """
    h, w = planes.shape[-2:]
    grid = torch.stack([(sx + 0.5) * (2.0 / w) - 1, (sy + 0.5) * (2.0 / h) - 1], -1)
    grid = grid.to(planes.dtype).view(1, 1, -1, 2)
    out = F.grid_sample(
        planes[None], grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[0, :, 0]
