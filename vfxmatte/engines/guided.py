"""The ``guided`` engine: weight-free mask-guided instance matting.

Per person: an image-driven trimap from the rough mask (:mod:`vfxmatte.refine.trimap`; the other
people's cores are background), then a closed-form matting-Laplacian solve restricted to the
person's region of interest, coarse-to-fine and matrix-free (:mod:`vfxmatte.refine.laplacian`),
tiled at large sizes so memory stays bounded (:mod:`vfxmatte.refine.tiling`). The same torch code
runs on CPU and CUDA. The solid cores are kept for the pipeline's instance-consistency step
(:meth:`GuidedEngine.last_cores`, also stored in ``EngineInput.extras["cores"]``).

Options (``self.options``):
    search_frac (0.02), search_min (12): half-width of the band in which the real edge is searched,
        as a fraction of the long side, at least ``search_min`` pixels.
    trimap ("adaptive" | "band"): image-driven trimap or a fixed band of ``search`` pixels.
    margin (3), texture_margin (6): unknown margin kept around ambiguous pixels (px at 1080p scale).
    prior_weight (0.0): weight of the colour-model alpha prior in the solve.
    radius (1), eps (1e-7): matting-Laplacian window radius and regulariser.
    tile (1024), overlap (64): full-resolution tiles for large regions.
"""

from __future__ import annotations

import torch

from vfxmatte.engines.base import Engine, EngineInput
from vfxmatte.refine.filters import erode
from vfxmatte.refine.laplacian import solve_alpha_pyramid
from vfxmatte.refine.tiling import region_of_interest
from vfxmatte.refine.trimap import adaptive_trimap, band_trimap


class GuidedEngine(Engine):
    """Weight-free matting: adaptive trimap + matrix-free closed-form solve per person."""

    name = "guided"

    def __init__(self, device="cpu", options=None):
        super().__init__(device, options)
        self._cores: torch.Tensor | None = None

    def _opt(self, key: str, default):
        return type(default)(self.options.get(key, default))

    def last_cores(self) -> torch.Tensor | None:
        """(N,H,W) solid-foreground cores of the last :meth:`matte` call, for consistency."""
        return self._cores

    def matte(self, inp: EngineInput) -> torch.Tensor:
        image = inp.image.to(self.device, torch.float32).clamp(0, 1)
        masks = (inp.masks.to(self.device, torch.float32) > 0.5).float()
        plate = inp.clean_plate
        if plate is not None:
            plate = plate.to(self.device, torch.float32).clamp(0, 1)
        n, h, w = masks.shape
        search = max(self._opt("search_min", 12), round(self._opt("search_frac", 0.02) * max(h, w)))
        cores = torch.stack([erode(masks[i], search) for i in range(n)]) if n else masks
        out = torch.zeros_like(masks)
        for i in range(n):
            if not bool(masks[i].any()):
                continue
            others = (cores.sum(0) - cores[i]).clamp(0, 1) if n > 1 else None
            y0, y1, x0, x1 = region_of_interest(masks[i], pad=2 * search)
            crop = (slice(y0, y1), slice(x0, x1))
            alpha = self._matte_one(
                image[:, crop[0], crop[1]],
                masks[i][crop],
                others[crop] if others is not None else None,
                plate[:, crop[0], crop[1]] if plate is not None else None,
                search,
            )
            out[i][crop] = alpha
        self._cores = cores
        inp.extras["cores"] = cores
        return out

    def _matte_one(self, image, mask, others, plate, search) -> torch.Tensor:
        """Alpha of one person inside their region of interest."""
        if self._opt("trimap", "adaptive") == "band":
            tri = band_trimap(mask, search)
            if others is not None:
                tri = tri * (1 - others)
            prior, weight = None, 0.0
        else:
            res = adaptive_trimap(
                image,
                mask,
                others,
                search=search,
                margin=self._opt("margin", 3),
                texture_margin=self._opt("texture_margin", 6),
                background=plate,
            )
            tri = res.trimap
            prior = res.prior
            weight = self._opt("prior_weight", 0.0) * res.confidence
        known = (tri != 0.5).float()
        return solve_alpha_pyramid(
            image,
            known,
            (tri > 0.75).float(),
            prior=prior,
            prior_weight=weight,
            radius=self._opt("radius", 1),
            eps=self._opt("eps", 1e-7),
            coarse_iters=self._opt("coarse_iters", 300),
            fine_iters=self._opt("fine_iters", 100),
        )
