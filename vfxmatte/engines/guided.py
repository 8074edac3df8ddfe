"""The ``guided`` engine: weight-free mask-guided instance matting.

Per person: an image-driven trimap from the rough mask (:mod:`vfxmatte.refine.trimap`; the other
people's cores are background), an alpha estimate from foreground/background colour samples
with a confidence (:mod:`vfxmatte.refine.sampling`), then a closed-form matting-Laplacian solve
with that estimate as a confidence-weighted data term, restricted to the person's region of
interest, coarse-to-fine and matrix-free (:mod:`vfxmatte.refine.laplacian`),
tiled at large sizes so memory stays bounded (:mod:`vfxmatte.refine.tiling`). The same torch code
runs on CPU and CUDA. The sure-foreground cores are kept for the pipeline's consistency step
(:meth:`GuidedEngine.last_cores`, also stored in ``EngineInput.extras["cores"]``).

Options (``self.options``):
    search_k (0.42), search_min (8): half-width of the band in which the real edge is searched,
        ``search_k * sqrt(long side)`` px (12 px at 800, 18 at 1920, 26 at 3840), at least
        ``search_min``; ``search_frac`` (unset) makes it a fixed fraction of the long side.
    hair_frac (0.0 = off), texture_threshold (0.08): wider half-width where the edge is textured
        (helps hair, hurts see-through objects: measured in docs/benchmarks.md, off by default).
    reach_k (5.0): hair/fur reach: up to ``reach_k * search`` px outside the mask (60 px at
        800, 90 at 1920) the unknown band grows, connected, through pixels that look like the
        foreground against a *far* background model, are textured (gradient energy above
        ``reach_texture``, 0.04) and sparse (fewer than ``reach_density``, 0.8, of their
        neighbours are such pixels: a solid look-alike is another object), gaps of
        ``reach_bridge`` (2) px closed; ``reach_llr`` (0) is the log-likelihood-ratio cut.
        0 turns it off. Why: hair runs past any band that is safe elsewhere; a wider band
        everywhere or along all texture hurt smooth edges and see-through objects (measured
        in docs/benchmarks.md: single mean SAD 5.98 -> 5.42 with it, multi unchanged).
    snap (1), snap_min (0.5), snap_range (3.0): before the trimap, measure how far each rough
        mask's edge is from the image's (:func:`vfxmatte.refine.trimap.mask_offset`, within
        ``snap_range`` search bands) and move the mask by it when that is more than
        ``snap_min`` of the band: a mask off by more than the band cannot be corrected by the
        trimap (single/ with masks grown a further 12 px: SAD 14.7 -> 6.4); 0 turns it off.
    trimap ("adaptive" | "band"): image-driven trimap or a fixed band of ``search`` pixels.
    trimap_side (2048): frames with a longer side get their trimaps on a proxy shrunk by an
        integer factor to at most this size (same band widths in full-resolution pixels).
    margin (3), texture_margin (6), llr_sure (6): unknown margin (px) kept around ambiguous
        pixels in smooth / textured areas; log-likelihood ratio for a "sure" fg/bg pixel.
    two_pass (True): with several people, recompute each trimap with the others' *sure*
        foreground (not just their eroded masks) as background: stops leakage between people.
    sample_weight (0.03): weight of the sampled-alpha data term in the solve (Shared/Robust
        Matting style colour samples, :mod:`vfxmatte.refine.sampling`; times each pixel's
        confidence, only within the ordinary band, off other people's masks and, outside the
        rough mask, only where it says alpha <= ``sample_outside_cap``, 0.5); 0 turns it off.
        ``sample_directions`` (8), ``sample_sigma`` (0.03): rays per pixel, distortion scale of
        the confidence; ``sample_stride`` (long side / 640, at least 2): grid of the samples.
    radius (1), eps (1e-7): matting-Laplacian window radius and regulariser.
    coarse_iters (300), fine_iters (20): CG iterations at the coarsest level and at each finer one.
    top_side (2048), top_iters (0), proxy_iters (12): frames with a longer side than
        ``top_side`` (4K) run only ``top_iters`` at full resolution, which refines the level
        below (0: keep its upsampled solution), and ``proxy_iters`` at that level (half
        resolution), where the edges are placed by the levels below it (measured in
        docs/benchmarks.md).
    reach_faint (0 = off, ``refine.trimap.REACH_FAINT``): the reach ring also follows faint
        strands (at least this alpha against their surroundings; 0.05 for the demo's hair).
    holes ("plate" | "colour" | "off"), core (1), ghosts (1), fallback (1): robustness steps
        (issue 14; 0 turns core/ghosts/fallback off): background seen through the rough mask
        opened (:mod:`..refine.holes`; by default only against a clean plate),
        the deep interior held opaque (:mod:`..refine.core`), alpha parts that never reach
        the ordinary band dropped (:mod:`..refine.ghosts`), a frame whose alpha disagrees
        grossly with its mask solved again on a fixed band (:mod:`..refine.failure`); the
        per-person :class:`~vfxmatte.refine.failure.FrameCheck` is in :attr:`checks` and
        ``EngineInput.extras["checks"]``. The input is no longer clipped at 1: values above 1
        are compressed (:mod:`..refine.highlights`).
    tile (64), overlap (8): refinement tiles (only those holding unknown pixels are solved, all
        in one batched float32 CG).
"""

from __future__ import annotations

import math

import torch

from vfxmatte.engines.base import Engine, EngineInput
from vfxmatte.refine.core import core_region, hold_core
from vfxmatte.refine.failure import FrameCheck, check_alpha
from vfxmatte.refine.filters import dilate, erode
from vfxmatte.refine.ghosts import drop_ghosts
from vfxmatte.refine.highlights import compress_highlights
from vfxmatte.refine.holes import HOLES_MODE, find_holes, open_holes
from vfxmatte.refine.laplacian import downsample, solve_alpha_pyramid
from vfxmatte.refine.sampling import sample_alpha
from vfxmatte.refine.tiling import region_of_interest
from vfxmatte.refine.trimap import (
    REACH_FAINT,
    adaptive_trimap,
    band_trimap,
    mask_offset,
    offset_mask,
)


class GuidedEngine(Engine):
    """Weight-free matting: adaptive trimap + matrix-free closed-form solve per person."""

    name = "guided"

    def __init__(self, device="cpu", options=None):
        super().__init__(device, options)
        self._cores: torch.Tensor | None = None
        self._trimaps: torch.Tensor | None = None
        self.offsets: dict[int, int] = {}  # last frame's measured mask offsets, per person
        self.checks: dict[str, FrameCheck] = {}  # last frame's failure checks, per layer name

    def _opt(self, key: str, default):
        return type(default)(self.options.get(key, default))

    def last_cores(self) -> torch.Tensor | None:
        """(N,H,W) solid-foreground cores of the last :meth:`matte` call, for consistency."""
        return self._cores

    def last_trimaps(self) -> torch.Tensor | None:
        """(N,H,W) trimaps (1 fg, 0 bg, 0.5 unknown) of the last call, for inspection/benchmarks."""
        return self._trimaps

    def matte(self, inp: EngineInput) -> torch.Tensor:
        image = compress_highlights(inp.image.to(self.device, torch.float32))
        masks = (inp.masks.to(self.device, torch.float32) > 0.5).float()
        plate = inp.clean_plate
        if plate is not None:
            plate = compress_highlights(plate.to(self.device, torch.float32))
        n, h, w = masks.shape
        present = [i for i in range(n) if bool(masks[i].any())]
        factor = max(1, math.ceil(max(h, w) / self._opt("trimap_side", 2048)))
        if factor == 1:
            masks, _ = self._snap_masks(image, masks, masks, present, 1)
            tris, sure, rois = self._trimap_stage(image, masks, plate, present, max(h, w))
            holes = self._hole_stage(image, masks, plate, tris, sure, rois, max(h, w))
            samples = self._sample_stage(image, masks, plate, tris, rois, max(h, w))
        else:
            # 4K and up: trimaps and samples on a proxy (cost /factor^2), the solve at full
            # resolution
            small = [
                downsample(t, factor) if t is not None else None for t in (image, masks, plate)
            ]
            small_masks = (small[1] > 0.5).float()
            small_masks, masks = self._snap_masks(small[0], small_masks, masks, present, factor)
            tris, sure, rois = self._trimap_stage(
                small[0], small_masks, small[2], present, max(h, w)
            )
            holes = self._hole_stage(small[0], small_masks, small[2], tris, sure, rois, max(h, w))
            samples = self._sample_stage(small[0], small_masks, small[2], tris, rois, max(h, w))
            sure = _enlarge(sure, factor, (h, w))
            for i in present:
                y0, y1, x0, x1 = (v * factor for v in rois[i])
                rois[i] = (y0, min(h, y1), x0, min(w, x1))
                size = (rois[i][1] - y0, rois[i][3] - x0)
                tris[i] = _enlarge(tris[i], factor, size)
                holes[i] = _enlarge(holes[i], factor, size)
                if samples[i] is not None:
                    samples[i] = tuple(_enlarge(t, factor, size) for t in samples[i])
        out = torch.zeros_like(masks)
        big = max(h, w) > self._opt("top_side", 2048)
        top_iters = (self._opt("top_iters", 0), self._opt("proxy_iters", 12)) if big else None
        self.checks = {}
        for i in present:
            y0, y1, x0, x1 = rois[i]
            crop = image[:, y0:y1, x0:x1]
            prior, prior_weight = samples[i] if samples[i] is not None else (None, 0.0)
            alpha = self._solve(crop, tris[i], prior, prior_weight, top_iters)
            self._floor_reach(alpha, masks[i, y0:y1, x0:x1], max(h, w), factor)
            out[i, y0:y1, x0:x1], self.checks[inp.names[i]] = self._robust(
                alpha, crop, masks[i, y0:y1, x0:x1], holes[i], max(h, w), top_iters
            )
            if self._opt("core", 1) > 0 and len(present) > 1:
                # the held interior is solid: no one else's alpha there (consistency)
                deep = core_region(masks[i, y0:y1, x0:x1], self._search_width(max(h, w)), holes[i])
                sure[i, y0:y1, x0:x1] = torch.maximum(sure[i, y0:y1, x0:x1], deep)
        self._cores = sure
        self._trimaps = torch.zeros_like(masks)
        for i in present:
            y0, y1, x0, x1 = rois[i]
            self._trimaps[i, y0:y1, x0:x1] = tris[i]
        inp.extras["cores"] = sure
        inp.extras["checks"] = dict(self.checks)
        return out

    def _solve(self, crop, tri, prior, prior_weight, top_iters) -> torch.Tensor:
        """The closed-form solve of one person's region of interest under trimap ``tri``."""
        return solve_alpha_pyramid(
            crop,
            (tri != 0.5).float(),
            (tri > 0.75).float(),
            prior=prior,
            prior_weight=prior_weight,
            radius=self._opt("radius", 1),
            eps=self._opt("eps", 1e-7),
            coarse_iters=self._opt("coarse_iters", 300),
            fine_iters=self._opt("fine_iters", 20),
            top_iters=top_iters,
            tile=self._opt("tile", 64),
            overlap=self._opt("overlap", 8),
        )

    def _hole_stage(self, image, masks, plate, tris, sure, rois, full_side: int) -> dict:
        """Per person, the pixels deep inside the rough mask that show the background
        (:func:`find_holes`), opened in their trimap and taken out of their sure core; (H,W)
        zeros per person when ``holes`` is "off", or "plate" (the default) without a plate."""
        ratio = max(image.shape[-2:]) / full_side
        search = max(1, round(self._search_width(full_side) * ratio))
        out = {}
        for i, tri in tris.items():
            y0, y1, x0, x1 = rois[i]
            mode = self._opt("holes", HOLES_MODE)
            if mode == "off" or (mode == "plate" and plate is None):
                out[i] = torch.zeros_like(tri)
                continue
            others = (masks.sum(0) - masks[i]).clamp(0, 1)[y0:y1, x0:x1]
            out[i] = find_holes(
                image[:, y0:y1, x0:x1],
                masks[i, y0:y1, x0:x1],
                search,
                plate[:, y0:y1, x0:x1] if plate is not None else None,
                others,
            )
            tris[i] = open_holes(tri, out[i], self._opt("margin", 3))
            sure[i, y0:y1, x0:x1] = (tris[i] == 1).float()
        return out

    def _robust(self, alpha, crop, mask, holes, side: int, top_iters):
        """One person's alpha made safe for a compositor, and the frame's verdict.

        Ghosts (parts not reaching the ordinary band) are dropped (:mod:`..refine.ghosts`),
        the deep interior held opaque (:mod:`..refine.core`), and a frame whose alpha still
        disagrees grossly with its mask (:mod:`..refine.failure`) is solved again on a fixed
        band around the mask (mask-constrained); its :class:`FrameCheck` says so.
        """
        search = self._search_width(side)
        band = search + self._opt("texture_margin", 6) + self._reach(search)
        if self._opt("ghosts", 1) > 0:
            alpha = drop_ghosts(alpha, mask, band)
        check = check_alpha(alpha, mask, search, holes)
        if check.failed and self._opt("fallback", 1) > 0:
            alpha = self._solve(crop, band_trimap(mask, search), None, 0.0, top_iters)
            check = FrameCheck(check.core_mean, check.spill, True, True, check.reason)
        if self._opt("core", 1) > 0:
            alpha = hold_core(alpha, mask, search, holes)
        return alpha, check

    def _snap_masks(self, image, masks, full_masks, present, factor: int):
        """Masks moved onto the image's edge where they are off by more than the band can take.

        A rough mask off by more than the search band (a generous roto, a segmenter's mask
        grown or shrunk by a few blocks) cannot be corrected by the trimap: the real edge lies
        outside the band. So each mask's offset is measured first (:func:`mask_offset`: where
        the mean colour of the rings at each distance from the mask's edge changes most) and,
        when it is more than ``snap_min`` (0.5) of the search band and less than ``snap_range``
        (3) bands, the mask is grown or shrunk by it (0 for ``snap`` turns this off). Measured
        on single/ with the rough masks moved a further 12 px: mean SAD 14.7 -> 6.4 (grown)
        and 16.0 -> 6.1 (shrunk); the dev-sets' own masks are left as they are
        (docs/benchmarks.md). The move is Euclidean (:func:`offset_mask`).

        ``image`` and ``masks`` are at the trimap stage's resolution, ``full_masks`` at the
        frame's (``factor`` times larger; the same tensor when ``factor`` is 1); returns both,
        moved. The measured offsets (frame pixels) are kept in :attr:`offsets`.
        """
        self.offsets = {}
        if self._opt("snap", 1) <= 0:
            return masks, full_masks
        search = self._search_width(max(full_masks.shape[-2:]))
        limit = round(self._opt("snap_range", 3.0) * search)
        moved, moved_full = masks, full_masks
        for i in present:
            offset = factor * mask_offset(
                image, masks[i], limit // factor, max(2, round(search / factor / 4))
            )
            self.offsets[i] = offset
            if not self._opt("snap_min", 0.5) * search < abs(offset) < limit:
                continue
            if moved is masks:
                moved = masks.clone()
                moved_full = full_masks.clone() if factor > 1 else moved
            moved[i] = offset_mask(masks[i], offset / factor)
            if factor > 1:
                moved_full[i] = offset_mask(full_masks[i], offset)
        return moved, moved_full

    def _trimap_stage(self, image, masks, plate, present, full_side: int):
        """Trimaps, sure-foreground cores and regions of interest of every person.

        ``full_side`` is the frame's long side at full resolution: band widths are chosen for
        it and scaled to ``image``'s size (a proxy of a 4K frame is given the same bands).
        """
        n, h, w = masks.shape
        ratio = max(h, w) / full_side
        search = max(1, round(self._search_width(full_side) * ratio))
        wide = round(self._opt("hair_frac", 0.0) * max(h, w))
        pad = 2 * max(search, wide) + max(0, self._reach(search) - search)
        rois = {i: region_of_interest(masks[i], pad=pad) for i in present}
        # pass 1: each person's sure foreground, with the others' eroded masks as background
        sure = torch.stack([erode(masks[i], search) for i in range(n)]) if n else masks.clone()
        passes = 2 if n > 1 and self._opt("two_pass", True) else 1
        tris: dict[int, torch.Tensor] = {}
        for p in range(passes):
            fixed = sure.clone()
            # the first of two passes only yields sure foreground, which the hair reach ring
            # (unknown pixels outside the mask) does not change: it is left out there
            reach = self._reach(search) if p == passes - 1 else 0
            for i in present:
                others = (fixed.sum(0) - fixed[i]).clamp(0, 1) if n > 1 else None
                tris[i] = self._trimap(image, masks[i], others, plate, rois[i], search, wide, reach)
                y0, y1, x0, x1 = rois[i]
                sure[i].zero_()
                sure[i, y0:y1, x0:x1] = (tris[i] == 1).float()
        return tris, sure, rois

    def _sample_stage(self, image, masks, plate, tris, rois, full_side: int) -> dict:
        """Sampled alpha (the solve's prior) and its weight per person, or None (option off).

        ``image``, ``masks``, ``plate`` (clean plate or None) and ``tris`` are at the trimap
        stage's resolution; rays look as far as the widest unknown band can be (search band
        plus hair reach plus margins). The weight is ``sample_weight`` x the sample's
        confidence, and zero

        - outside the ordinary band (search + texture margin around the rough mask): in the hair
          reach ring a foreground-coloured background (a tree beside a fluffy toy, a keyboard
          behind a mesh) is explained by colour as well as a strand is, and the Laplacian, which
          ties it to the background, is right more often there (measured in docs/benchmarks.md);
        - on another person's rough mask: their core is "background" for this person, so the
          samples cannot tell two similar-coloured people apart (leakage doubled without this);
        - outside the person's own rough mask where the samples claim mostly foreground (above
          ``sample_outside_cap``, 0.5): a solid person-coloured patch the mask left out is more
          often a look-alike (leaf shadows beside a dark hoodie on the real two-person clip
          became a 0.1 ghost 60 px out) than the person; strands out there are faint.
        """
        weight = self._opt("sample_weight", 0.03)
        if weight <= 0:
            return dict.fromkeys(tris)
        n = masks.shape[0]
        ratio = max(image.shape[-2:]) / full_side
        search = self._search_width(full_side) * ratio
        reach = max(search, self._reach(round(search)))
        margin = self._opt("texture_margin", 6) * ratio
        # colours are sampled on a grid of about 640 px (at least every other pixel): measured
        # as good as every other pixel at 1920 px and a third cheaper (docs/benchmarks.md)
        stride = self._opt("sample_stride", max(2, round(max(image.shape[-2:]) / 640)))
        out = {}
        for i, tri in tris.items():
            y0, y1, x0, x1 = rois[i]
            sampled = sample_alpha(
                image[:, y0:y1, x0:x1],
                tri,
                directions=self._opt("sample_directions", 8),
                max_dist=round(2 * (search + reach) + 4 * margin),
                sigma=self._opt("sample_sigma", 0.03),
                stride=stride,
                background=plate[:, y0:y1, x0:x1] if plate is not None else None,
            )
            trusted = dilate(masks[i, y0:y1, x0:x1], round(search + margin)) > 0.5
            if n > 1:
                others = (masks.sum(0) - masks[i]).clamp(0, 1)[y0:y1, x0:x1] > 0.5
                trusted = trusted & ~others
            outside = masks[i, y0:y1, x0:x1] < 0.5
            trusted = trusted & ~(outside & (sampled.alpha > self._opt("sample_outside_cap", 0.5)))
            out[i] = (sampled.alpha, weight * sampled.confidence * trusted.float())
        return out

    def _floor_reach(self, alpha: torch.Tensor, mask: torch.Tensor, side: int, factor: int):
        """Zero faint alpha (< ``reach_floor``) that only the hair reach ring let through.

        Why: the ring follows strands up to ``reach_k * search`` px past the mask, and a
        textured, person-coloured background there (leaf shadows on a pavement next to a dark
        hoodie, on the real two-person clip) gets a faint ghost (alpha ~0.08). Strands the
        ring exists for are found at higher alpha; beyond the ordinary band, faint alpha is
        more often ghost than wisp (measured in docs/benchmarks.md).
        """
        floor = self._opt("reach_floor", 0.1)
        if floor <= 0 or self._opt("reach_k", 5.0) <= 0:
            return
        band = self._search_width(side) + factor * self._opt("texture_margin", 6)
        outside = dilate((mask > 0.5).float(), band) < 0.5
        alpha[outside & (alpha < floor)] = 0.0

    def _reach(self, search: int) -> int:
        """How far (px) outside the mask the unknown band may grow along strands."""
        return round(self._opt("reach_k", 5.0) * search)

    def _search_width(self, long_side: int) -> int:
        """Half-width (px) of the edge search band.

        Grows with the square root of the frame size, not linearly: a rough mask's error is
        mostly in pixels of the segmenter's grid (block size, a few px of dilation), so it grows
        slower than the frame. Measured on dev-sets: 12 px at 800 px and ~19 px at 1920 px are
        best (docs/benchmarks.md). ``search_frac`` switches to a fixed fraction instead.
        """
        if "search_frac" in self.options:
            width = float(self.options["search_frac"]) * long_side
        else:
            width = self._opt("search_k", 0.42) * long_side**0.5
        return max(self._opt("search_min", 8), round(width))

    def _trimap(self, image, mask, others, plate, roi, search, wide, reach) -> torch.Tensor:
        """Trimap (1 fg, 0 bg, 0.5 unknown) of one person inside their region of interest."""
        y0, y1, x0, x1 = roi
        img = image[:, y0:y1, x0:x1]
        m = mask[y0:y1, x0:x1]
        oth = others[y0:y1, x0:x1] if others is not None else None
        if self._opt("trimap", "adaptive") == "band":
            tri = band_trimap(m, search)
            return tri * (1 - oth) if oth is not None else tri
        return adaptive_trimap(
            img,
            m,
            oth,
            search=search,
            wide_search=wide,
            texture_threshold=self._opt("texture_threshold", 0.08),
            margin=self._opt("margin", 3),
            texture_margin=self._opt("texture_margin", 6),
            llr_sure=self._opt("llr_sure", 6.0),
            background=plate[:, y0:y1, x0:x1] if plate is not None else None,
            reach=reach,
            reach_llr=self._opt("reach_llr", 0.0),
            reach_bridge=self._opt("reach_bridge", 2),
            reach_density=self._opt("reach_density", 0.8),
            reach_texture=self._opt("reach_texture", 0.04),
            reach_faint=self._opt("reach_faint", REACH_FAINT),
        ).trimap


def _enlarge(x: torch.Tensor, factor: int, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour enlarge of (..., h, w) by an integer factor, cropped to ``size``."""
    y = x.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
    return y[..., : size[0], : size[1]].contiguous()
