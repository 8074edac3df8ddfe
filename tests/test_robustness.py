"""Robustness of the guided engine on synthetic cases with a known answer (issue 14 part B):
opaque interiors, holes in the rough mask, ghosts, per-frame failure fallback, highlights above
1 and faint strands beyond the mask. Small images: each test runs in about a second."""

from __future__ import annotations

import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.refine.consistency import enforce_instance_consistency
from vfxmatte.refine.core import first_claim, hold_core, mask_depths, owners, territories
from vfxmatte.refine.failure import check_alpha
from vfxmatte.refine.ghosts import drop_ghosts
from vfxmatte.refine.highlights import compress_highlights
from vfxmatte.refine.holes import find_holes
from vfxmatte.refine.trimap import mask_offset, move_mask, offset_mask

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


NEIGHBOUR = torch.tensor([0.75, 0.50, 0.30])[:, None, None]  # close to FG, far from BG


def _two(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Image of person ``a`` (FG colour) in front of person ``b`` (NEIGHBOUR colour) on BG."""
    g = torch.Generator().manual_seed(0)
    noise = 0.01 * torch.randn(3, *a.shape, generator=g)
    return (a * FG + b * NEIGHBOUR + (1 - a - b) * BG + noise).clamp(0, 1)


def _matte_two(image, masks) -> torch.Tensor:
    out = GuidedEngine("cpu").matte(EngineInput(image=image, masks=masks, names=["a", "b"]))
    return enforce_instance_consistency(out.alphas, out.cores)[0]


def test_snap_does_not_take_a_neighbour_for_the_background():
    # a small person in front of a larger one of a similar colour: rings outside the small
    # person's (right) mask show the neighbour, and the biggest change of their mean colour
    # is the neighbour's outer edge, 18 px out. Left in, the small person took the neighbour.
    yy, xx = _grid(160, 240)
    r = ((yy - 80) ** 2 + (xx - 120) ** 2).sqrt()
    a = (r < 30).float()
    b = (r < 48).float() * (1 - a)
    image = _two(a, b)
    assert mask_offset(image, a, 24, 2) > 12  # the check can fail: the rings alone are fooled
    assert mask_offset(image, a, 24, 2, ignore=b) == 0
    alphas = _matte_two(image, torch.stack([a, b]))
    assert float(alphas[0][b > 0].mean()) < 0.05
    assert float(alphas[1][b > 0].mean()) > 0.95
    assert float(alphas[0][a > 0].mean()) > 0.95


def test_owners_and_territories_of_overlapping_masks():
    yy, xx = _grid(100, 200)
    left = (xx < 110).float()  # overlaps right's mask on 90 <= x < 110
    right = (xx >= 90).float()
    depths = mask_depths(torch.stack([left, right]))
    own = owners(depths)
    assert float(own[0, 50, 95]) == 1 and float(own[1, 50, 95]) == 0  # deeper in left
    assert float(own[1, 50, 105]) == 1 and float(own[0, 50, 105]) == 0
    land = territories(depths, 3)
    assert float((land[0] * land[1]).sum()) == 0  # no pixel is two people's
    assert float(land[0, 50, 50]) == 1 and float(land[0, 50, 108]) == 0


def test_a_grown_neighbour_mask_leaves_no_alpha_in_a_solid_body():
    # person b's rough mask is grown 8 px into person a (a segmenter's generous mask of the
    # one behind): b's alpha must not sit inside a's opaque body, and a's body stays opaque
    yy, xx = _grid(160, 240)
    a = ((yy > 30) & (yy < 130) & (xx > 40) & (xx < 120)).float()
    b = ((yy > 30) & (yy < 130) & (xx >= 120) & (xx < 190)).float()
    image = _two(a, b)
    b_mask = ((yy > 22) & (yy < 138) & (xx >= 112) & (xx < 198)).float()
    alphas = _matte_two(image, torch.stack([a, b_mask]))
    body = a > 0
    assert float(alphas[1][body].mean()) < 0.002  # leakage under the 0.002
    assert float(alphas[0][body].mean()) > 0.95
    deep = (xx > 56) & (xx < 104) & (yy > 46) & (yy < 114)  # two search bands (8 px) inside
    assert float(alphas[0][deep].min()) >= 0.98


def test_snap_refuses_a_move_that_is_a_body_not_a_rim():
    # a toy with a dark belly over a background of nearly its colour: the strongest ring
    # change is the belly's edge, 18 px inside the mask. Shrinking there would keep 22% of
    # the toy (its body went to background); the move changes the area far more than a
    # rim could, so the mask stays and the toy stays opaque.
    yy, xx = _grid(160, 240)
    r = ((yy - 80) ** 2 + (xx - 120) ** 2).sqrt()
    toy, belly = (r < 34).float(), (r < 16).float()
    look_alike = torch.tensor([0.70, 0.50, 0.35])[:, None, None]
    dark = torch.tensor([0.05, 0.02, 0.02])[:, None, None]
    g = torch.Generator().manual_seed(0)
    colour = belly * dark + (toy - belly) * FG + (1 - toy) * look_alike
    image = (colour + 0.01 * torch.randn(3, 160, 240, generator=g)).clamp(0, 1)
    assert mask_offset(image, toy, 24, 2) < -12  # the check can fail: the rings are fooled
    out = GuidedEngine("cpu").matte(EngineInput(image=image, masks=toy[None], names=["a"]))
    assert float(out.alphas[0][(r > 18) & (r < 30)].mean()) > 0.98


def test_snap_compares_rings_of_the_same_edge_stretches_beside_a_neighbour():
    # a grey disc whose rough mask is 6 px too big (the answer: -6); a neighbour stands from
    # 4 px outside the mask on most of its edge, where the background is light. Leaving only
    # the neighbour's pixels out of the rings, the rings beyond 4 px lose the light side and
    # their mean jumps to the blue side's: an edge that is not one (measured +4). Compared on
    # the same stretches, the rings find the disc's edge.
    yy, xx = _grid(160, 240)
    r = ((yy - 80) ** 2 + (xx - 120) ** 2).sqrt()
    a, mask = (r < 30).float(), (r < 36).float()
    b = ((xx < 130) & (r >= 40)).float()
    grey = torch.tensor([0.6, 0.55, 0.5])[:, None, None]
    light = torch.tensor([0.9, 0.9, 0.9])[:, None, None]
    g = torch.Generator().manual_seed(0)
    colour = a * grey + b * NEIGHBOUR + (1 - a - b) * torch.where(xx < 130, light, BG)
    image = (colour + 0.01 * torch.randn(3, 160, 240, generator=g)).clamp(0, 1)
    assert mask_offset(image, mask, 24, 2) > 0  # the check can fail: the rings alone are fooled
    assert abs(mask_offset(image, mask, 24, 2, ignore=b) + 6) <= 1


def test_a_move_keeps_the_border_with_a_neighbour():
    # an ID map: the person on the left lost a strip of their body to the one on the right.
    # Shrunk (the offset measured on the free edge), the mask keeps its side of the shared
    # border; grown, it does not take the neighbour's
    yy, xx = _grid(100, 200)
    left = ((xx >= 20) & (xx < 100) & (yy >= 20) & (yy < 80)).float()
    right = ((xx >= 100) & (xx < 180) & (yy >= 20) & (yy < 80)).float()
    shrunk = move_mask(left, -6, right)
    assert float(shrunk[50, 99]) == 1 and float(shrunk[50, 94]) == 1  # the border stays
    assert float(shrunk[50, 22]) == 0 and float(shrunk[22, 60]) == 0  # the free edge moved
    grown = move_mask(left, 6, right)
    assert float(grown[50, 16]) == 1 and float((grown * right).sum()) == 0
    assert torch.equal(move_mask(left, -6, None), offset_mask(left, -6))


def test_no_territory_where_the_owner_is_not_solid():
    # the right person's mask reaches over the left one's fur (x 90..110); the right person's
    # own solve put alpha 0.2 there: the pixels stay out of their territory
    yy, xx = _grid(100, 200)
    left, right = (xx < 100).float(), (xx >= 90).float()
    depths = mask_depths(torch.stack([left, right]))
    alphas = torch.stack([left, torch.where(xx < 110, 0.2, 1.0) * right])
    land = territories(depths, 3, alphas)
    assert float(land[1, 50, 105]) == 0 and float(land[1, 50, 150]) == 1
    assert torch.equal(land[0], territories(depths, 3)[0])


def test_in_a_territory_the_others_get_what_the_owner_left():
    # the owner's solve gives 0.6 on fur in their territory: someone in front keeps up to 0.4
    # of their 0.7 there, and keeps all of it outside the territory
    land = torch.zeros(2, 4, 4)
    land[0, :, :2] = 1
    alphas = torch.stack([torch.full((4, 4), 0.6), torch.full((4, 4), 0.7)])
    out = first_claim(alphas, land)
    assert torch.allclose(out[1, :, :2], torch.full((4, 2), 0.4))
    assert torch.equal(out[1, :, 2:], alphas[1, :, 2:]) and torch.equal(out[0], alphas[0])


CY, CX = 100, 170  # the head's centre in the 200x480 frames below


def _head_beside(dark, strand_end: int):
    """A dark head (radius 45, rough mask 47) with dark strands running out to the left to
    ``strand_end`` px from its centre, over a pale wall with window frames as dark as the hair
    where ``dark(yy, xx)`` (bool). Returns image, truth, rough mask, and the strands and the
    frames beyond the rough mask's own band."""
    h, w = 200, 480
    yy, xx = _grid(h, w)
    r = ((yy - CY) ** 2 + (xx - CX) ** 2).sqrt()
    strands = torch.zeros(h, w, dtype=torch.bool)
    for k, y0 in enumerate(range(80, 150, 10)):
        centre = y0 + 0.15 * (CX - 45 - xx) * (1 if k % 2 else -1)
        strands |= ((yy - centre).abs() < 1) & (xx < CX - 30) & (xx > CX - strand_end)
    alpha = torch.maximum((r < 45).float(), 0.9 * strands.float())
    hair = torch.tensor([0.12, 0.08, 0.06])[:, None, None]
    wall = torch.tensor([0.80, 0.78, 0.72])[:, None, None]
    frame = torch.tensor([0.10, 0.10, 0.12])[:, None, None]
    frames = dark(yy, xx)
    g = torch.Generator().manual_seed(0)
    bg = torch.where(frames, frame, wall)
    image = alpha * hair + (1 - alpha) * bg + 0.01 * torch.randn(3, h, w, generator=g)
    out = r > 59  # beyond the rough mask's own band
    return image.clamp(0, 1), alpha, (r < 47).float(), strands & out, frames & out


def _head_strands_and_window_grid():
    """The head with strands, and a window grid (one lattice of dark frames) beside it on the
    right from the mask's edge out to the frame's edge."""

    def grid(yy, xx):
        return (((xx % 18) < 3) | ((yy % 18) < 3)) & (xx > CX + 48)

    return _head_beside(grid, 100)


def test_a_window_grid_beside_the_head_is_not_taken_for_hair():
    """The reach ring follows the strands; the grid's dark frames, as common in the far
    background as next to the head, get no alpha with ``reach_far_share`` (off by default: at
    0.1 dev single/ SAD went 5.057 -> 5.088, GT04 14.00 -> 14.53); without it and without the
    pattern and contact tests (``reach_pattern`` 0) the grid is followed. By default (the
    contact test: the grid holds more than its contact with the band could feed) it is not."""
    image, alpha, mask, strands, grid = _head_strands_and_window_grid()
    inp = EngineInput(image=image, masks=mask[None], names=["a"])
    plain = GuidedEngine("cpu", {"reach_pattern": 0}).matte(inp)
    far = GuidedEngine("cpu", {"reach_far_share": 0.1, "reach_pattern": 0}).matte(inp)
    default = GuidedEngine("cpu").matte(inp)
    assert float((plain.diagnostics["trimaps"][0][grid] == 0.5).sum()) > 500  # the bug
    assert float((default.diagnostics["trimaps"][0][grid] == 0.5).sum()) == 0
    assert float((far.diagnostics["trimaps"][0][grid] == 0.5).sum()) == 0
    assert float(far.alphas[0][grid].max()) == 0.0
    truth = float(alpha[strands].sum())
    kept = float(torch.minimum(far.alphas[0], alpha)[strands].sum())
    assert kept > 0.2 * truth
    assert kept >= 0.95 * float(torch.minimum(plain.alphas[0], alpha)[strands].sum())


def _head_strands_and_facade():
    """The head with strands, and a facade of window frames (separate outlines) from a little
    beside the head far out to the right; one ledge at the head's height touches the head's
    edge. The real two-person clip's ghosts: window frames linked to a head by a thin contact."""
    x0, period, size, line = CX + 59, 24, 16, 3

    def facade(yy, xx):
        u, v = (xx - x0) % period, yy % period
        edge = (u < line) | (u >= size - line) | (v < line) | (v >= size - line)
        frames = (u < size) & (v < size) & edge & (xx >= x0)
        return frames | (((yy - CY).abs() < 2) & (xx > CX + 40) & (xx < x0 + 2))

    return _head_beside(facade, 80)


def test_window_frames_linked_to_the_head_by_a_ledge_are_not_hair():
    """The reach ring follows the strands; the window frames, whose pattern the scene shows
    all around (frames not linked to the head), get no alpha by default (``reach_pattern``);
    without that test the ledge links them to the head and they come out nearly opaque."""
    image, alpha, mask, strands, facade = _head_strands_and_facade()
    inp = EngineInput(image=image, masks=mask[None], names=["a"])
    plain = GuidedEngine("cpu", {"reach_pattern": 0}).matte(inp).alphas[0]
    est = GuidedEngine("cpu").matte(inp).alphas[0]
    assert float(plain[facade].max()) > 0.5  # the bug: the frames taken for hair
    assert float(est[facade].max()) == 0.0
    truth = float(alpha[strands].sum())
    assert float(torch.minimum(est, alpha)[strands].sum()) > 0.9 * truth  # strands kept
