"""The ``guided`` engine: weight-free mask-guided instance matting.

Per person: an image-driven trimap from the rough mask (:mod:`vfxmatte.refine.trimap`; the other
people's cores are background), an alpha estimate from foreground/background colour samples
with a confidence (:mod:`vfxmatte.refine.sampling`), then a closed-form matting-Laplacian solve
with that estimate as a confidence-weighted data term, restricted to the person's region of
interest, coarse-to-fine and matrix-free (:mod:`vfxmatte.refine.laplacian`),
tiled at large sizes so memory stays bounded (:mod:`vfxmatte.refine.tiling`). The same torch code
runs on CPU and CUDA. The sure-foreground cores are kept for the pipeline's consistency step
(``EngineOutput.cores``); trimaps and measured mask offsets are diagnostics.

Options: :class:`GuidedOptions` (one field per setting, with its default, range and why).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from vfxmatte.engines.base import Engine, EngineInput, EngineOptions, EngineOutput
from vfxmatte.refine.core import (
    TERRITORY_DEPTH,
    first_claim,
    hold_core,
    mask_depths,
    owners,
    solid_part,
    territories,
)
from vfxmatte.refine.failure import FrameCheck, check_alpha
from vfxmatte.refine.filters import dilate, erode
from vfxmatte.refine.ghosts import drop_ghosts
from vfxmatte.refine.highlights import compress_highlights
from vfxmatte.refine.holes import HOLES_MODE, find_holes, open_holes
from vfxmatte.refine.laplacian import downsample, solve_alpha_pyramid
from vfxmatte.refine.person_prior import (
    PersonPrior,
    constrain_trimap,
    person_coverage,
    person_regions,
    prior_weights,
)
from vfxmatte.refine.sampling import sample_alpha
from vfxmatte.refine.tiling import region_of_interest
from vfxmatte.refine.trimap import (
    REACH_FAINT,
    adaptive_trimap,
    band_trimap,
    mask_offset,
    move_mask,
)

# a snap is a rim: one changing a mask's area by more than this factor (either way) found the
# object's own inner structure, not its edge (a synth duck measured 18 px in kept 29% of
# itself). Right moves seen: the dev photos' masks moved 12-20 px 1.10-1.38x, a small test
# figure off by 20 px 0.48x and 1.71x
SNAP_AREA = 2.5


class GuidedOptions(EngineOptions):
    """Settings of the guided engine; the defaults are the measured best (docs/benchmarks.md)."""

    search_k: float = Field(
        0.42,
        ge=0,
        description="edge search half-width = search_k * sqrt(long side) px (12 px at 800, "
        "18 at 1920, 26 at 3840)",
    )
    search_min: int = Field(8, ge=1, description="smallest edge search half-width (px)")
    search_frac: float | None = Field(
        None, ge=0, description="if set: search half-width as a fixed fraction of the long side"
    )
    hair_frac: float = Field(
        0.0, ge=0, description="wider half-width where the edge is textured (0 = off)"
    )
    texture_threshold: float = Field(0.08, ge=0, description="gradient energy of 'textured'")
    reach_k: float = Field(
        5.0,
        ge=0,
        description="hair reach: the unknown band may grow up to reach_k * search px outside "
        "the mask along strand-like pixels (0 = off)",
    )
    reach_texture: float = Field(0.04, ge=0, description="reach: least gradient energy")
    reach_faint: float = Field(
        REACH_FAINT,
        ge=0,
        le=1,
        description="reach also follows faint strands of at least this contrast (0: off; 0.05 "
        "recovers the demo's hair but costs ~1% MAD on dev and synth sets)",
    )
    highlights: Literal["clip", "compress"] = Field(
        "clip",
        description="input values above 1: 'clip' at 1, or 'compress' with a log shoulder (keeps "
        "strands over a bright sky; with it on, an ID-map occlusion test lost 15% of a solid "
        "interior, so it is not the default)",
    )
    holes: Literal["plate", "colour", "off"] = Field(
        HOLES_MODE,
        description="open background seen through the rough mask: 'plate' (only against a clean "
        "plate), 'colour' (against colour clusters outside the mask; opens look-alike interiors "
        "too), 'off'",
    )
    core: bool = Field(True, description="hold the deep interior of each rough mask opaque")
    person_prior: bool = Field(
        False,
        description="for instances the rvm network finds to be people: no alpha beyond what it "
        "sees, and no holes where it is sure (refine/person_prior.py; needs the rvm weights)",
    )
    ghosts: bool = Field(
        True, description="drop alpha parts that never reach the person's ordinary band"
    )
    fallback: bool = Field(
        True,
        description="re-solve a person on a fixed band around the mask when the alpha disagrees "
        "grossly with it (reported in the frame's diagnostics)",
    )
    reach_density: float = Field(
        0.8, ge=0, le=1, description="reach: most neighbours alike (a solid look-alike stops it)"
    )
    reach_bridge: int = Field(2, ge=0, description="reach: gaps closed (px)")
    reach_llr: float = Field(0.0, description="reach: log-likelihood-ratio cut")
    reach_far_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="reach: a strand's colour is rarer than this share of the far background "
        "nearby (a window grid's lines are not; 0 = off: 0.1 costs dev single/ SAD 5.057 -> 5.088)",
    )
    reach_pattern: float = Field(
        1.0,
        ge=0,
        description="reach: strands linked to the person must be denser than this many times "
        "the scene's own candidates around them, and no more than their contact with the band "
        "could feed (a window facade linked by a ledge is not; 0 = off)",
    )
    reach_floor: float = Field(
        0.1, ge=0, le=1, description="faint alpha below this beyond the band is zeroed (0 = off)"
    )
    snap: int = Field(1, ge=0, description="move masks onto the image's edge when off (0 = off)")
    snap_min: float = Field(0.5, ge=0, description="snap: least offset, in search bands")
    snap_range: float = Field(3.0, ge=0, description="snap: largest offset measured, in bands")
    trimap: Literal["adaptive", "band"] = Field(
        "adaptive", description="image-driven trimap, or a fixed band of the search width"
    )
    trimap_side: int = Field(
        2048, ge=16, description="longer frames get trimaps on a proxy of at most this side"
    )
    margin: int = Field(3, ge=0, description="unknown margin kept around ambiguous smooth pixels")
    texture_margin: int = Field(6, ge=0, description="the same in textured areas (px)")
    llr_sure: float = Field(6.0, description="log-likelihood ratio of a 'sure' fg/bg pixel")
    two_pass: bool = Field(
        True, description="recompute trimaps with the others' sure foreground as background"
    )
    sample_weight: float = Field(
        0.03, ge=0, description="weight of the sampled-alpha data term (0 = off)"
    )
    sample_outside_cap: float = Field(
        0.5, ge=0, le=1, description="outside the mask, samples trusted only at alpha <= this"
    )
    sample_directions: int = Field(8, ge=1, description="colour-sample rays per pixel")
    sample_sigma: float = Field(0.03, gt=0, description="distortion scale of the confidence")
    sample_stride: int | None = Field(
        None, ge=1, description="sample grid step (default: long side / 640, at least 2)"
    )
    radius: int = Field(1, ge=1, description="matting-Laplacian window radius")
    eps: float = Field(1e-7, gt=0, description="matting-Laplacian regulariser")
    coarse_iters: int = Field(300, ge=0, description="CG iterations at the coarsest level")
    fine_iters: int = Field(
        60,
        ge=0,
        description="CG iterations at each finer level (60 with the band solver: dev-sets single/ "
        "SAD 5.01, multi/ MAD 6.86; 20 was the tiled solver's, 20 with the band solver: 5.08)",
    )
    top_side: int = Field(2048, ge=16, description="longer frames use top_iters/proxy_iters")
    top_iters: int = Field(0, ge=0, description="CG iterations at full resolution (4K)")
    proxy_iters: int = Field(12, ge=0, description="CG iterations at half resolution (4K)")
    solver: Literal["band", "tiled"] = Field(
        "band",
        description="'band': each pyramid level one sparse system over its unknown band (cost "
        "follows the band); 'tiled': the earlier matrix-free solve in overlapping tiles",
    )
    tile: int = Field(64, ge=8, description="refinement tile size (px), solver 'tiled'")
    overlap: int = Field(8, ge=0, description="refinement tile overlap (px), solver 'tiled'")


class GuidedEngine(Engine):
    """Weight-free matting: adaptive trimap + matrix-free closed-form solve per person."""

    name = "guided"
    Options = GuidedOptions
    opts: GuidedOptions

    def __init__(self, device="cpu", options=None):
        super().__init__(device, options)
        self._offsets: dict[int, int] = {}  # this frame's measured mask offsets, per person
        self._person_prior: PersonPrior | None = None

    def matte(self, inp: EngineInput) -> EngineOutput:
        """Alphas, sure-foreground cores; diagnostics: ``trimaps`` (N,H,W float16: 1 fg, 0 bg, 0.5
        unknown) and ``offsets`` (person index -> measured mask offset in px)."""
        image = self._encode(inp.image)
        masks = (inp.masks.to(self.device, torch.float32) > 0.5).float()
        plate = inp.clean_plate
        if plate is not None:
            plate = self._encode(plate)
        n, h, w = masks.shape
        present = [i for i in range(n) if bool(masks[i].any())]
        factor = max(1, math.ceil(max(h, w) / self.opts.trimap_side))
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
        prior_weights = None
        if self.opts.person_prior and present:
            prior_weights = self._person_prior_stage(inp.image, masks, tris, rois, present)
        out = torch.zeros_like(masks)
        big = max(h, w) > self.opts.top_side
        top_iters = (self.opts.top_iters, self.opts.proxy_iters) if big else None
        checks: dict[str, FrameCheck] = {}
        depths = mask_depths(masks)
        owned = owners(depths)
        for i in present:
            y0, y1, x0, x1 = rois[i]
            crop = image[:, y0:y1, x0:x1]
            prior, prior_weight = samples[i] if samples[i] is not None else (None, 0.0)
            alpha = self._solve(crop, tris[i], prior, prior_weight, top_iters)
            self._floor_reach(alpha, masks[i, y0:y1, x0:x1], max(h, w), factor)
            out[i, y0:y1, x0:x1], checks[inp.names[i]] = self._robust(
                alpha,
                crop,
                masks[i, y0:y1, x0:x1],
                holes[i],
                max(h, w),
                top_iters,
                owned[i, y0:y1, x0:x1],
            )
        # half precision holds 0, 0.5 and 1 exactly, at half the memory: a frame's diagnostics
        # wait in the temporal smoother's lag with it (33 MB per person saved per frame at 4K)
        trimaps = torch.zeros_like(masks, dtype=torch.float16)
        for i in present:
            y0, y1, x0, x1 = rois[i]
            trimaps[i, y0:y1, x0:x1] = tris[i]
        diagnostics = {
            "trimaps": trimaps,
            "offsets": dict(self._offsets),
            "checks": {name: check.as_dict() for name, check in checks.items()},
        }
        if prior_weights is not None:
            diagnostics["person_prior"] = dict(zip(inp.names, prior_weights.tolist(), strict=True))
        # each person's territory, computed once: the cores keep its solid part, and inside it
        # the others get only what its owner left
        land = territories(depths, self._territory_depth(max(h, w)), owned=owned) if n > 1 else None
        cores = self._cores(sure, land, holes, rois, max(h, w), out)
        if len(present) > 1:
            out = first_claim(out, land)
        return EngineOutput(alphas=out, cores=cores, diagnostics=diagnostics)

    def _person_prior_stage(self, image, masks, tris, rois, present) -> torch.Tensor:
        """Constrain the trimaps of the people the rvm network finds (half coverage weight or
        more; :mod:`..refine.person_prior`); returns each instance's prior weight."""
        view = self._people().see(image)
        weights = prior_weights(person_coverage(view.union, masks))
        allowed, sure = person_regions(view)
        for i in present:
            if float(weights[i]) >= 0.5:
                y0, y1, x0, x1 = rois[i]
                tris[i] = constrain_trimap(
                    tris[i],
                    masks[i, y0:y1, x0:x1],
                    allowed[y0:y1, x0:x1],
                    sure[y0:y1, x0:x1],
                    view.reach,
                )
        return weights

    def _people(self) -> PersonPrior:
        """The person network, loaded on first use (option ``person_prior``)."""
        if self._person_prior is None:
            self._person_prior = PersonPrior(self.device)
        return self._person_prior

    def _territory_depth(self, side: int) -> int:
        """Depth (px) inside a mask beyond which a pixel its person owns is nobody else's."""
        return max(1, round(TERRITORY_DEPTH * self._search_width(side)))

    def _cores(self, sure, land, holes, rois, side: int, alphas) -> torch.Tensor:
        """Solid cores for instance consistency: the trimap's sure foreground, plus each
        person's *territory* (``land``: deeper than a third of the search band inside their
        mask, where their mask is the deepest; None for one person) where their own ``alphas``
        are solid (holes excepted), minus everyone else's territory, so no two cores overlap.
        Consistency removes every other person's alpha from a core."""
        if land is None:
            return sure
        land = solid_part(land, alphas)
        for i, hole in holes.items():
            if bool(hole.any()):
                y0, y1, x0, x1 = rois[i]
                land[i, y0:y1, x0:x1] *= 1 - dilate(hole, self._search_width(side))
        # in place, the same bits (-x + 1 is 1 - x): two frame-size planes per person less at
        # the engine's memory peak
        rest = (land.sum(0, keepdim=True) - land).clamp_(0, 1)
        rest = rest.neg_().add_(1).mul_(sure)
        return torch.maximum(land, rest, out=land)

    def _encode(self, image: torch.Tensor) -> torch.Tensor:
        """The engine's working image: float32 on its device, values above 1 clipped or
        compressed (option ``highlights``)."""
        image = image.to(self.device, torch.float32)
        if self.opts.highlights == "compress":
            return compress_highlights(image)
        return image.clamp(0, 1)

    def _solve(self, crop, tri, prior, prior_weight, top_iters) -> torch.Tensor:
        """The closed-form solve of one person's region of interest under trimap ``tri``."""
        return solve_alpha_pyramid(
            crop,
            (tri != 0.5).float(),
            (tri > 0.75).float(),
            prior=prior,
            prior_weight=prior_weight,
            radius=self.opts.radius,
            eps=self.opts.eps,
            coarse_iters=self.opts.coarse_iters,
            fine_iters=self.opts.fine_iters,
            top_iters=top_iters,
            tile=self.opts.tile,
            overlap=self.opts.overlap,
            solver=self.opts.solver,
        )

    def _hole_stage(self, image, masks, plate, tris, sure, rois, full_side: int) -> dict:
        """Per person, the pixels deep inside the rough mask that show the background
        (:func:`find_holes`), opened in their trimap and taken out of their sure core; (H,W)
        zeros per person when ``holes`` is "off", or "plate" (the default) without a plate."""
        ratio = max(image.shape[-2:]) / full_side
        search = max(1, round(self._search_width(full_side) * ratio))
        mode = self.opts.holes
        out = {}
        total = masks.sum(0)  # once per frame, not once per person
        for i, tri in tris.items():
            y0, y1, x0, x1 = rois[i]
            if mode == "off" or (mode == "plate" and plate is None):
                out[i] = torch.zeros_like(tri)
                continue
            others = (total[y0:y1, x0:x1] - masks[i, y0:y1, x0:x1]).clamp(0, 1)
            out[i] = find_holes(
                image[:, y0:y1, x0:x1],
                masks[i, y0:y1, x0:x1],
                search,
                plate[:, y0:y1, x0:x1] if plate is not None else None,
                others,
            )
            tris[i] = open_holes(tri, out[i], self.opts.margin)
            sure[i, y0:y1, x0:x1] = (tris[i] == 1).float()
        return out

    def _robust(self, alpha, crop, mask, holes, side: int, top_iters, owned=None):
        """One person's alpha made safe for a compositor, and the frame's verdict.

        Ghosts (parts not reaching the ordinary band) are dropped (:mod:`..refine.ghosts`),
        the deep interior held opaque (:mod:`..refine.core`), and a frame whose alpha still
        disagrees grossly with its mask (:mod:`..refine.failure`) is solved again on a fixed
        band around the mask (mask-constrained); its :class:`FrameCheck` says so.
        """
        search = self._search_width(side)
        band = search + self.opts.texture_margin + self._reach(search)
        if self.opts.ghosts:
            alpha = drop_ghosts(alpha, mask, band)
        check = check_alpha(alpha, mask, search, holes)
        if check.failed and self.opts.fallback:
            alpha = self._solve(crop, band_trimap(mask, search), None, 0.0, top_iters)
            check = FrameCheck(check.core_mean, check.spill, True, True, check.reason)
        if self.opts.core:
            alpha = hold_core(alpha, mask, search, holes, within=owned)
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
        moved. The measured offsets (frame pixels) go to the output's diagnostics.
        """
        self._offsets = {}
        if self.opts.snap <= 0:
            return masks, full_masks
        search = self._search_width(max(full_masks.shape[-2:]))
        limit = round(self.opts.snap_range * search)
        moved, moved_full = masks, full_masks
        total, total_full = masks.sum(0), full_masks.sum(0)
        for i in present:
            # other people's masks are neither this person's background nor theirs to take:
            # on synth multi sets, rings running into a neighbour measured offsets of 18-26 px
            # where the mask was off by 0-4, and the grown mask took the neighbour's body
            others = (total - masks[i]).clamp(0, 1) if len(present) > 1 else None
            offset = factor * mask_offset(
                image,
                masks[i],
                limit // factor,
                max(2, round(search / factor / 4)),
                ignore=others,
            )
            self._offsets[i] = offset
            if not self.opts.snap_min * search < abs(offset) < limit:
                continue
            shifted = move_mask(masks[i], offset / factor, others)
            change = float(shifted.sum()) / float(masks[i].sum())
            if not 1 / SNAP_AREA <= change <= SNAP_AREA:
                continue
            if moved is masks:
                moved = masks.clone()
                moved_full = full_masks.clone() if factor > 1 else moved
            moved[i] = shifted
            if factor > 1:
                rest = (total_full - full_masks[i]).clamp(0, 1) if others is not None else None
                moved_full[i] = move_mask(full_masks[i], offset, rest)
        return moved, moved_full

    def _trimap_stage(self, image, masks, plate, present, full_side: int):
        """Trimaps, sure-foreground cores and regions of interest of every person.

        ``full_side`` is the frame's long side at full resolution: band widths are chosen for
        it and scaled to ``image``'s size (a proxy of a 4K frame is given the same bands).
        """
        n, h, w = masks.shape
        ratio = max(h, w) / full_side
        search = max(1, round(self._search_width(full_side) * ratio))
        wide = round(self.opts.hair_frac * max(h, w))
        pad = 2 * max(search, wide) + max(0, self._reach(search) - search)
        rois = {i: region_of_interest(masks[i], pad=pad) for i in present}
        # pass 1: each person's sure foreground, with the others' eroded masks as background;
        # eroded inside the region of interest only, which is the same to the bit: the region
        # holds the mask and more than ``search`` px of zeros around it (frame edges aside)
        sure = torch.zeros_like(masks)
        for i in present:
            y0, y1, x0, x1 = rois[i]
            sure[i, y0:y1, x0:x1] = erode(masks[i, y0:y1, x0:x1], search)
        passes = 2 if n > 1 and self.opts.two_pass else 1
        # a first pass only feeds the others' trimaps, inside their regions of interest: a
        # person whose region meets nobody else's is left out of it (the same result)
        seen = {i: _meets_another(i, rois) for i in present}
        tris: dict[int, torch.Tensor] = {}
        for p in range(passes):
            fixed = sure.clone()
            # the first of two passes only yields sure foreground, which the hair reach ring
            # (unknown pixels outside the mask) does not change: it is left out there
            last = p == passes - 1
            reach = self._reach(search) if last else 0
            total = fixed.sum(0) if n > 1 else None  # once per pass, not once per person
            for i in present:
                if not (last or seen[i]):
                    continue
                y0, y1, x0, x1 = rois[i]
                others = None
                if total is not None:
                    others = (total[y0:y1, x0:x1] - fixed[i, y0:y1, x0:x1]).clamp(0, 1)
                tris[i] = self._trimap(image, masks[i], others, plate, rois[i], search, wide, reach)
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
        weight = self.opts.sample_weight
        if weight <= 0:
            return dict.fromkeys(tris)
        n = masks.shape[0]
        ratio = max(image.shape[-2:]) / full_side
        search = self._search_width(full_side) * ratio
        reach = max(search, self._reach(round(search)))
        margin = self.opts.texture_margin * ratio
        # colours are sampled on a grid of about 640 px (at least every other pixel): measured
        # as good as every other pixel at 1920 px and a third cheaper (docs/benchmarks.md)
        stride = self.opts.sample_stride or max(2, round(max(image.shape[-2:]) / 640))
        out = {}
        total = masks.sum(0) if n > 1 else None  # once per frame, not once per person
        for i, tri in tris.items():
            y0, y1, x0, x1 = rois[i]
            sampled = sample_alpha(
                image[:, y0:y1, x0:x1],
                tri,
                directions=self.opts.sample_directions,
                max_dist=round(2 * (search + reach) + 4 * margin),
                sigma=self.opts.sample_sigma,
                stride=stride,
                background=plate[:, y0:y1, x0:x1] if plate is not None else None,
            )
            trusted = dilate(masks[i, y0:y1, x0:x1], round(search + margin)) > 0.5
            if n > 1:
                others = (total[y0:y1, x0:x1] - masks[i, y0:y1, x0:x1]).clamp(0, 1) > 0.5
                trusted = trusted & ~others
            outside = masks[i, y0:y1, x0:x1] < 0.5
            trusted = trusted & ~(outside & (sampled.alpha > self.opts.sample_outside_cap))
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
        floor = self.opts.reach_floor
        if floor <= 0 or self.opts.reach_k <= 0:
            return
        band = self._search_width(side) + factor * self.opts.texture_margin
        outside = dilate((mask > 0.5).float(), band) < 0.5
        alpha[outside & (alpha < floor)] = 0.0

    def _reach(self, search: int) -> int:
        """How far (px) outside the mask the unknown band may grow along strands."""
        return round(self.opts.reach_k * search)

    def _search_width(self, long_side: int) -> int:
        """Half-width (px) of the edge search band.

        Grows with the square root of the frame size, not linearly: a rough mask's error is
        mostly in pixels of the segmenter's grid (block size, a few px of dilation), so it grows
        slower than the frame. Measured on dev-sets: 12 px at 800 px and ~19 px at 1920 px are
        best (docs/benchmarks.md). ``search_frac`` switches to a fixed fraction instead.
        """
        if self.opts.search_frac is not None:
            width = self.opts.search_frac * long_side
        else:
            width = self.opts.search_k * long_side**0.5
        return max(self.opts.search_min, round(width))

    def _trimap(self, image, mask, oth, plate, roi, search, wide, reach) -> torch.Tensor:
        """Trimap (1 fg, 0 bg, 0.5 unknown) of one person inside their region of interest;
        ``oth`` (the others' sure foreground) is already cropped to it, the rest is not."""
        y0, y1, x0, x1 = roi
        img = image[:, y0:y1, x0:x1]
        m = mask[y0:y1, x0:x1]
        if self.opts.trimap == "band":
            tri = band_trimap(m, search)
            return tri * (1 - oth) if oth is not None else tri
        return adaptive_trimap(
            img,
            m,
            oth,
            search=search,
            wide_search=wide,
            texture_threshold=self.opts.texture_threshold,
            margin=self.opts.margin,
            texture_margin=self.opts.texture_margin,
            llr_sure=self.opts.llr_sure,
            background=plate[:, y0:y1, x0:x1] if plate is not None else None,
            reach=reach,
            reach_llr=self.opts.reach_llr,
            reach_bridge=self.opts.reach_bridge,
            reach_density=self.opts.reach_density,
            reach_texture=self.opts.reach_texture,
            reach_faint=self.opts.reach_faint,
            reach_far_share=self.opts.reach_far_share,
            reach_pattern=self.opts.reach_pattern,
        ).trimap


def _meets_another(i: int, rois: dict) -> bool:
    """Whether person ``i``'s region of interest (y0, y1, x0, x1) overlaps anyone else's."""
    y0, y1, x0, x1 = rois[i]
    return any(
        j != i and y0 < b1 and b0 < y1 and x0 < c1 and c0 < x1
        for j, (b0, b1, c0, c1) in rois.items()
    )


def _enlarge(x: torch.Tensor, factor: int, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour enlarge of (..., h, w) by an integer factor, cropped to ``size``."""
    y = x.repeat_interleave(factor, -2).repeat_interleave(factor, -1)
    return y[..., : size[0], : size[1]].contiguous()
