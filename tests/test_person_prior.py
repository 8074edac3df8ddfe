"""The guided engine's person prior (option ``person_prior``): trimap constraints from the rvm
network, applied only to subjects the network finds to be people."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import require_or_skip
from vfxmatte import models
from vfxmatte.engines import create_engine
from vfxmatte.engines.base import EngineInput
from vfxmatte.refine.filters import dilate, erode
from vfxmatte.refine.person_prior import PersonView, constrain_trimap, person_regions


@pytest.fixture(scope="module")
def rvm_weights():
    require_or_skip(models.find_rvm_weights() is not None, models.RVM_HOW_TO_GET)


def test_constrain_trimap_clears_what_no_person_reaches_and_fills_where_one_is_sure():
    tri = torch.full((40, 40), 0.5)
    mask = torch.zeros(40, 40)
    mask[10:30, 10:30] = 1
    allowed = torch.zeros(40, 40)
    allowed[5:35, 5:20] = 1  # the network sees a person reaching left of the mask only
    sure = torch.zeros(40, 40)
    sure[12:28, 12:28] = 1
    out = constrain_trimap(tri, mask, allowed, sure, reach=3)
    assert float(out[20, 35]) == 0.0  # outside the mask, nobody there: background
    assert float(out[20, 7]) == 0.5  # outside the mask within the person's reach: unknown
    assert float(out[20, 20]) == 1.0  # the mask's interior where the person is sure: solid
    assert float(out[20, 11]) == 0.5  # inside the mask, within reach of its edge: the solve's
    assert float(out[20, 26]) == 1.0 and float(out[20, 27]) == 0.5  # interior ends 3 px in
    assert float(out[2, 2]) == 0.0 and float(out[20, 5]) == 0.5


def test_person_regions_follow_the_network_resolution():
    union = torch.zeros(100, 100)
    union[40:60, 40:60] = 1
    allowed, sure = person_regions(PersonView(union=union, ratio=0.25))  # 4 px per net pixel
    assert float(allowed[50, 67]) == 1 and float(allowed[50, 69]) == 0  # 2 net px = 8 px
    assert float(sure[50, 50]) == 1 and float(sure[50, 62]) == 0


def _disc_shot(h: int = 96, w: int = 128) -> EngineInput:
    yy, xx = np.mgrid[:h, :w]
    disc = np.hypot(yy - 48, xx - 64) < 26
    img = np.zeros((3, h, w), np.float32) + np.array([0.2, 0.5, 0.8], np.float32)[:, None, None]
    img[:, disc] = np.array([0.9, 0.3, 0.1], np.float32)[:, None]
    mask = dilate(torch.from_numpy(disc.astype(np.float32))[None], 4)
    return EngineInput(image=torch.from_numpy(img), masks=mask, names=["p1"], frame=0)


def test_a_subject_the_network_does_not_find_keeps_the_engine_answer(rvm_weights, one_torch_thread):
    inp = _disc_shot()
    plain = create_engine("guided", "cpu").matte(inp)
    prior = create_engine("guided", "cpu", {"person_prior": True}).matte(inp)
    assert prior.diagnostics["person_prior"]["p1"] == 0.0  # a red disc is nobody
    assert torch.equal(plain.alphas, prior.alphas)


@pytest.mark.integration
def test_two_people_lose_the_window_grid_beside_their_heads(
    rvm_weights, shared_data, one_torch_thread
):
    """Frame 0 of the real clip at 960x540: alpha far outside each rough mask (the window grid
    beside the heads) falls, and the mask's interior stays solid."""
    folder = shared_data / "two-people"
    img = cv2.imread(str(folder / "frames" / "0000.jpg"))[:, :, ::-1]
    img = cv2.resize(img, (960, 540), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    masks = []
    for name in ("0000_person1.png", "0000_person2.png"):
        m = cv2.imread(str(folder / "masks" / name), cv2.IMREAD_GRAYSCALE)
        masks.append(cv2.resize(m, (960, 540), interpolation=cv2.INTER_NEAREST) > 127)
    masks_t = torch.from_numpy(np.stack(masks).astype(np.float32))
    inp = EngineInput(
        image=torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous(),
        masks=masks_t,
        names=["person01", "person02"],
        frame=0,
    )
    plain = create_engine("guided", "cpu").matte(inp).alphas
    out = create_engine("guided", "cpu", {"person_prior": True}).matte(inp)
    assert min(out.diagnostics["person_prior"].values()) == 1.0  # both are people to the net
    far = 1 - dilate(masks_t, 10)  # more than 10 px (1% of the long side) outside the mask
    interior = erode(masks_t, 10)
    for i in range(2):
        before = float((plain[i] * far[i]).sum())
        after = float((out.alphas[i] * far[i]).sum())
        assert after < 0.5 * before, (i, before, after)
        inside = float((out.alphas[i] * interior[i]).sum() / interior[i].sum())
        assert inside >= float((plain[i] * interior[i]).sum() / interior[i].sum()) - 1e-3
        assert inside > 0.98
