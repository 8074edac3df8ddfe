"""OpenCV's fast binary morphology (``filters._morph_cpu``) against the box-filter form it
stands in for, for every mask dtype the engine passes, and its refusal of non-binary masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vfxmatte.refine.filters import _morph_cpu, box_filter


def _box_form(mask: torch.Tensor, radius: int, dilate: bool) -> torch.Tensor:
    mean = box_filter(mask.float(), radius)
    return ((mean > 1e-6) if dilate else (mean > 1 - 1e-6)).to(mask.dtype)


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bool, torch.uint8, torch.int64]
)
@pytest.mark.parametrize("shape", [(40, 50), (3, 40, 50), (2, 2, 30, 20)])
def test_fast_morphology_equals_the_box_form(dtype, shape):
    mask = torch.from_numpy(np.random.default_rng(0).random(shape) > 0.7).to(dtype)
    for op, dilate in ((cv2.dilate, True), (cv2.erode, False)):
        fast = _morph_cpu(mask, 2, op)
        assert fast is not None and fast.dtype == dtype and fast.shape == mask.shape
        assert torch.equal(fast, _box_form(mask, 2, dilate))


@pytest.mark.parametrize("value", [0.5, float("nan"), -1.0, 2.0, 256.0, 1.5])
def test_non_binary_masks_take_the_torch_path(value):
    for dtype in (torch.float32, torch.float16):
        mask = torch.zeros(6, 7, dtype=dtype)
        mask[2, 3] = value
        assert _morph_cpu(mask, 1, cv2.dilate) is None
    if value in (2.0, 256.0, -1.0):
        assert _morph_cpu(mask.to(torch.int64), 1, cv2.dilate) is None
