"""Rough masks off by more than the search band: the offset is measured from the image and
the mask moved onto the real edge before the trimap (guided engine, ``snap``)."""

from __future__ import annotations

import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.refine.filters import dilate
from vfxmatte.refine.trimap import mask_offset, offset_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _figure(h: int = 200, w: int = 240, seed: int = 3):
    """A textured figure (a soft-edged rounded body) over a textured background: texture on
    both sides of the edge, as in real plates."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    dist = (((yy - 110) / 70) ** 2 + ((xx - 120) / 60) ** 2).sqrt()
    alpha = ((1 - dist) * 60 / 2).clamp(0, 1)  # ~2 px soft edge
    fg = torch.tensor([0.85, 0.6, 0.4])[:, None, None] + 0.06 * torch.randn(3, h, w, generator=g)
    bg = torch.tensor([0.2, 0.35, 0.25])[:, None, None] + 0.08 * torch.randn(3, h, w, generator=g)
    image = (alpha * fg + (1 - alpha) * bg).clamp(0, 1)
    return image, alpha


@pytest.mark.parametrize("shift", [-18, -9, 0, 9, 18])
def test_offset_of_a_moved_mask_is_measured(shift):
    image, alpha = _figure()
    mask = (alpha > 0.5).float()
    moved = offset_mask(mask, shift)
    found = mask_offset(image, moved, limit=30, step=3)
    assert abs(found + shift) <= 3, (shift, found)  # the real edge is -shift px away


def test_offset_mask_moves_every_edge_point_the_same_distance():
    yy, xx = torch.meshgrid(torch.arange(101).float(), torch.arange(101).float(), indexing="ij")
    radius = ((yy - 50) ** 2 + (xx - 50) ** 2).sqrt()
    disc = (radius <= 30).float()
    for d in (-12, 12):
        moved = offset_mask(disc, d)
        edge = radius[(moved > 0.5) & (dilate(1 - moved, 1) > 0.5)]
        assert float((edge - (30 + d)).abs().max()) <= 1.5


def test_offset_of_an_empty_or_full_mask_is_zero():
    image, _ = _figure(40, 40)
    assert mask_offset(image, torch.zeros(40, 40), 10, 2) == 0
    assert mask_offset(image, torch.ones(40, 40), 10, 2) == 0


@pytest.mark.parametrize("shift", [-20, 20])
def test_engine_recovers_from_a_mask_off_by_more_than_the_band(shift):
    image, alpha = _figure()
    mask = (alpha > 0.5).float()
    moved = offset_mask(mask, shift)
    inp = EngineInput(image=image, masks=moved[None], names=["p"])
    options = {"search_min": 8, "search_frac": 0.05}  # 12 px band: the 20 px error is outside
    snapped = GuidedEngine("cpu", options).matte(inp).alphas[0]
    plain = GuidedEngine("cpu", {**options, "snap": 0}).matte(inp).alphas[0]
    err_snapped = float((snapped - alpha).abs().mean())
    err_plain = float((plain - alpha).abs().mean())
    # without the move, a grown mask keeps a 20 px rim of background (measured error 0.23); a
    # shrunk one is partly rescued by the hair reach ring growing through the body (0.011)
    assert err_snapped < 0.6 * err_plain, (err_snapped, err_plain)
    assert err_snapped < 0.008


def test_engine_leaves_a_nearly_right_mask_alone():
    image, alpha = _figure()
    mask = dilate((alpha > 0.5).float(), 3)
    inp = EngineInput(image=image, masks=mask[None], names=["p"])
    engine = GuidedEngine("cpu", {"search_min": 8, "search_frac": 0.05})
    out = engine.matte(inp)
    plain = GuidedEngine("cpu", {"search_min": 8, "search_frac": 0.05, "snap": 0}).matte(inp)
    assert torch.equal(out.alphas[0], plain.alphas[0])
    assert abs(out.diagnostics["offsets"][0] + 3) <= 2


def test_texture_parallel_to_the_edge_gives_no_offset():
    """Vertical stripes beside a vertical edge change every ring's mean: no offset is trusted."""
    h, w = 80, 120
    stripes = (torch.arange(w) // 6 % 2).float()
    image = torch.stack([stripes, 1 - stripes, 0.5 * torch.ones(w)])[:, None, :].expand(3, h, w)
    mask = torch.zeros(h, w)
    mask[:, 58:] = 1
    assert mask_offset(image.clone(), mask, limit=40, step=3) == 0


def test_shrinking_keeps_parts_thinner_than_the_offset():
    """A body with a 10 px wide arm, shrunk by 8 px: the body's rim goes, the arm stays."""
    mask = torch.zeros(100, 160)
    mask[20:80, 20:80] = 1  # body
    mask[45:55, 80:140] = 1  # arm, 10 px wide
    moved = offset_mask(mask, -8)
    assert float(moved[45:55, 100:140].mean()) == 1.0  # the arm, away from the body
    assert float(moved[20:27, 30:70].mean()) == 0.0  # the body's rim
    assert float(moved[35:65, 35:65].mean()) == 1.0  # the body's inside
