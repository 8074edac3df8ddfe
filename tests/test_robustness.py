"""Robustness of the guided engine on synthetic cases with a known answer (issue 14 part B):
opaque interiors, holes in the rough mask, ghosts, per-frame failure fallback, highlights above
1 and faint strands beyond the mask. Small images: each test runs in about a second."""

from __future__ import annotations

import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.refine.core import hold_core
from vfxmatte.refine.failure import check_alpha
from vfxmatte.refine.ghosts import drop_ghosts
from vfxmatte.refine.highlights import compress_highlights
from vfxmatte.refine.holes import find_holes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FG = torch.tensor([0.85, 0.45, 0.25])[:, None, None]
BG = torch.tensor([0.15, 0.35, 0.75])[:, None, None]


def _grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")


def _image(alpha: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = 0.01 * torch.randn(3, *alpha.shape, generator=g)
    return (alpha * FG + (1 - alpha) * BG + noise).clamp(0, 1)


def _donut(h: int = 160, w: int = 160):
    """A thick ring (the person) whose rough mask is the filled disc: the hole shows the bg."""
    yy, xx = _grid(h, w)
    r = ((yy - 80) ** 2 + (xx - 80) ** 2).sqrt()
    alpha = ((r < 60) & (r > 28)).float()
    mask = (r < 62).float()
    return _image(alpha), alpha, mask


def test_hole_showing_the_background_opens_and_the_solid_part_stays_opaque():
    image, alpha, mask = _donut()
    holes = find_holes(image, mask, 8)
    yy, xx = _grid(160, 160)
    r = ((yy - 80) ** 2 + (xx - 80) ** 2).sqrt()
    assert float(holes[r < 26].mean()) > 0.9  # the hole (deep inside the mask) found
    assert float(holes[alpha == 1].sum()) == 0  # nothing of the ring taken for background
    colour = GuidedEngine("cpu", {"holes": "colour"})
    est = colour.matte(EngineInput(image=image, masks=mask[None], names=["a"])).alphas[0]
    centre = r < 20
    assert float(est[centre].max()) < 0.05  # the hole opened up
    without = (
        GuidedEngine("cpu", {"holes": "off"})
        .matte(EngineInput(image=image, masks=mask[None], names=["a"]))
        .alphas[0]
    )
    assert float(without[centre].min()) > 0.9  # the check can fail: it stays filled without


def test_hole_opens_against_a_clean_plate_by_default():
    image, alpha, mask = _donut()
    g = torch.Generator().manual_seed(3)
    plate = (BG + 0.01 * torch.randn(3, 160, 160, generator=g)).clamp(0, 1)
    yy, xx = _grid(160, 160)
    centre = ((yy - 80) ** 2 + (xx - 80) ** 2).sqrt() < 20
    engine = GuidedEngine("cpu")
    inp = EngineInput(image=image, masks=mask[None], names=["a"], clean_plate=plate)
    assert float(engine.matte(inp).alphas[0][centre].max()) < 0.05
    no_plate = engine.matte(EngineInput(image=image, masks=mask[None], names=["a"])).alphas[0]
    assert float(no_plate[centre].min()) > 0.9  # without a plate the default leaves it


def test_no_hole_where_the_interior_does_not_match_the_background():
    yy, xx = _grid(160, 160)
    alpha = (((yy - 80) ** 2 + (xx - 80) ** 2).sqrt() < 60).float()
    image = _image(alpha)
    assert float(find_holes(image, alpha, 8).sum()) == 0


def test_deep_interior_is_held_opaque_except_at_holes():
    _, alpha, mask = _donut()
    grey = torch.full_like(alpha, 0.67) * mask
    holes = (((_grid(160, 160)[0] - 80) ** 2 + (_grid(160, 160)[1] - 80) ** 2).sqrt() < 26).float()
    held = hold_core(grey, mask, 4, holes)
    deep = (alpha == 1) & (held > 0)
    yy, xx = _grid(160, 160)
    r = ((yy - 80) ** 2 + (xx - 80) ** 2).sqrt()
    assert float(held[(r > 36) & (r < 44)].min()) >= 0.98  # deep in the ring: opaque
    assert float(held[r < 10].max()) == pytest.approx(0.67)  # the hole is not filled
    assert float(held[(r > 58) & (r < 62)].max()) == pytest.approx(0.67)  # edge left alone
    assert bool(deep.any())


def test_ghost_far_from_the_person_is_dropped_connected_strand_kept():
    yy, xx = _grid(120, 200)
    mask = ((xx > 20) & (xx < 60) & (yy > 20) & (yy < 100)).float()
    alpha = mask.clone()
    strand = (yy - 60).abs() < 1.5
    alpha[strand & (xx >= 60) & (xx < 120)] = 0.4  # a strand leaving the body
    alpha[(yy > 40) & (yy < 60) & (xx > 150) & (xx < 180)] = 0.3  # a window patch, detached
    out = drop_ghosts(alpha, mask, 10)
    assert float(out[:, 140:].max()) == 0.0
    assert torch.equal(out[:, :140], alpha[:, :140])


def test_failed_frame_falls_back_to_a_mask_constrained_solve_and_says_so():
    yy, xx = _grid(160, 160)
    alpha = (((yy - 80) ** 2 + (xx - 80) ** 2).sqrt() < 60).float()
    image, mask = _image(alpha), alpha.clone()  # a right mask: the fallback has a right answer
    grey = mask * 0.5  # a solve that lost the core
    check = check_alpha(grey, mask, 8)
    assert check.failed and "core" in check.reason
    assert not check_alpha(alpha, mask, 8).failed
    engine = GuidedEngine("cpu")
    fixed, verdict = engine._robust(grey, image, mask, torch.zeros_like(mask), 160, None)
    assert verdict.failed and verdict.fell_back
    assert verdict.as_dict()["fell_back"] is True
    assert float((fixed - alpha).abs().mean()) < 0.02
    # the engine reports every person's verdict for the frame
    inp = EngineInput(image=image, masks=mask[None], names=["person01"])
    checks = engine.matte(inp).diagnostics["checks"]
    assert set(checks) == {"person01"}
    assert not checks["person01"]["failed"]


def test_highlights_above_one_keep_their_contrast():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, 1.5, 100.0])
    y = compress_highlights(x)
    assert torch.equal(y[:3], x[:3])
    assert bool((y[1:] > y[:-1]).all())  # monotonic: 1.2 and 1.5 stay apart
    assert float(y[-1]) < 6.0


def test_faint_strands_over_a_bright_sky_come_back():
    """Strands of alpha 0.3 beyond the rough mask over a sky above 1 (the demo shot's hair):
    clipped at 1 they vanish; kept, the reach ring follows them."""
    h, w = 160, 160
    yy, xx = _grid(h, w)
    alpha = (xx < 60).float()
    for k, y0 in enumerate(range(12, 120, 12)):
        centre = y0 + 0.2 * (xx - 60) * (1 if k % 2 else -1)
        alpha = torch.maximum(alpha, 0.3 * (((yy - centre).abs() < 1) & (xx < 100)).float())
    skin = torch.tensor([0.75, 0.6, 0.5])[:, None, None]
    sky = torch.tensor([1.2, 1.3, 1.45])[:, None, None]
    image = alpha * skin + (1 - alpha) * sky
    mask = (xx < 64).float()
    out = (xx >= 76) & (xx < 100)
    truth = float(alpha[out].sum())
    hair = GuidedEngine("cpu", {"reach_faint": 0.05, "highlights": "compress"})
    est = hair.matte(EngineInput(image=image, masks=mask[None], names=["a"])).alphas[0]
    clipped = hair.matte(
        EngineInput(image=image.clamp(0, 1), masks=mask[None], names=["a"])
    ).alphas[0]
    assert float(clipped[out].sum()) < 0.05 * truth
    assert float(torch.minimum(est, alpha)[out].sum()) > 0.4 * truth
    assert float(est[out & (alpha == 0)].mean()) < 0.05  # the sky between strands stays clear
