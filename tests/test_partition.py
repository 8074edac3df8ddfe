"""Splitting one union alpha into people by their rough masks (no weights needed)."""

from __future__ import annotations

import torch

from vfxmatte.refine.partition import partition_alpha


def _scene(h: int = 120, w: int = 200):
    """Left half red person, right half blue person, both fully opaque in the union alpha;
    a third blob at the bottom that nobody masked."""
    image = torch.zeros(3, h, w)
    image[0, :, : w // 2] = 0.9
    image[2, :, w // 2 :] = 0.9
    union = torch.zeros(h, w)
    union[10:80, 20:180] = 1.0
    union[100:115, 90:110] = 1.0  # unmasked person
    masks = torch.zeros(2, h, w)
    # rough masks that overlap across the true (colour) boundary at x=100
    masks[0, 10:80, 20:112] = 1.0
    masks[1, 10:80, 88:180] = 1.0
    return union, image, masks


def test_split_sums_to_union_inside_the_masks():
    union, image, masks = _scene()
    alphas = partition_alpha(union, image, masks, band_frac=0.03)
    assert alphas.shape == (2, *union.shape)
    total = alphas.sum(0)
    assert float((total - union).max()) < 1e-5
    assert torch.allclose(total[15:75, 25:175], union[15:75, 25:175], atol=1e-4)


def test_overlap_follows_image_edges_not_mask_edges():
    union, image, masks = _scene()
    alphas = partition_alpha(union, image, masks, band_frac=0.03)
    # inside the overlap of the two rough masks (x 88..112), ownership flips at the colour edge
    assert float(alphas[0, 20:70, 90:97].mean()) > 0.9
    assert float(alphas[1, 20:70, 103:110].mean()) > 0.9


def test_unmasked_people_and_empty_masks_get_nothing():
    union, image, masks = _scene()
    alphas = partition_alpha(union, image, masks, band_frac=0.03)
    assert float(alphas[:, 100:115, 90:110].max()) == 0.0
    masks[1] = 0.0
    alphas = partition_alpha(union, image, masks, band_frac=0.03)
    assert float(alphas[1].abs().max()) == 0.0
    assert float(alphas[0, 20:70, 30:100].min()) > 0.99  # the only person keeps their alpha


def test_gate_fades_instead_of_cutting():
    h, w = 100, 100
    union = torch.ones(h, w)
    masks = torch.zeros(1, h, w)
    masks[0, :, :40] = 1.0
    alphas = partition_alpha(union, torch.full((3, h, w), 0.5), masks, band_frac=0.1)
    row = alphas[0, 50]
    assert float(row[:45].min()) == 1.0  # kept within the band
    assert float(row[-20:].max()) == 0.0  # gone well past it
    steps = (row[:-1] - row[1:]).max()
    assert float(steps) < 0.5  # a ramp, not a cut


def test_no_masks_gives_no_layers():
    alphas = partition_alpha(torch.ones(8, 8), torch.zeros(3, 8, 8), torch.zeros(0, 8, 8))
    assert alphas.shape == (0, 8, 8)
