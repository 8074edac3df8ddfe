"""Fast paths of the guided engine's building blocks give the same results as the plain ones.

Why: speed work (OpenCV morphology on CPU masks, cached colour processors, read-ahead and
write-behind) must not change a single output value; each fast path is compared here with the
reference path it replaces, on inputs where they could differ (borders, radii past the image,
batches, non-binary masks).
"""

from __future__ import annotations

import pytest
import torch

from vfxmatte.refine import filters


def _reference(mask: torch.Tensor, radius: int, grow: bool) -> torch.Tensor:
    """The box-filter definition of binary dilation/erosion (clipped windows)."""
    mean = filters.box_filter(mask.float(), radius)
    return ((mean > 1e-6) if grow else (mean > 1 - 1e-6)).to(mask.dtype)


@pytest.mark.parametrize("shape", [(37, 53), (3, 64, 80), (2, 1, 50, 40)])
@pytest.mark.parametrize("radius", [1, 4, 30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_morphology_fast_path_matches_box_filter(one_torch_thread, shape, radius, dtype):
    gen = torch.Generator().manual_seed(radius)
    mask = (torch.rand(shape, generator=gen) > 0.6).to(dtype)
    for op, grow in ((filters.dilate, True), (filters.erode, False)):
        out = op(mask, radius)
        assert out.dtype == dtype and out.shape == mask.shape
        assert torch.equal(out, _reference(mask, radius, grow)), (op.__name__, shape, radius)


def test_morphology_borders_and_soft_masks(one_torch_thread):
    # a mask touching the border is not eaten from outside; a soft mask takes the box path
    mask = torch.zeros(20, 30)
    mask[:8, :10] = 1
    assert filters.erode(mask, 2)[0, 0] == 1 and filters.erode(mask, 2)[7, 0] == 0
    assert filters.dilate(mask, 3)[10, 12] == 1 and filters.dilate(mask, 3)[11, 0] == 0
    soft = mask * 0.5
    assert torch.equal(filters.dilate(soft, 3), _reference(soft, 3, True))
    assert torch.equal(filters.erode(soft, 3), _reference(soft, 3, False))


def test_morphology_on_device(device):
    mask = (torch.rand(3, 40, 50) > 0.5).float()
    out = filters.dilate(mask.to(device), 2).cpu()
    assert torch.equal(out, filters.dilate(mask, 2))
