"""No-reference checks on synthetic frames with a known answer."""

import numpy as np
import pytest

from vfxmatte.evaluation import noref

H, W = 120, 160


def _scene():
    """A red disc (soft 4-px edge) over a smooth blue-green gradient, composited correctly."""
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    bg = np.stack([0.1 + 0.1 * xx / W, 0.4 + 0.2 * yy / H, np.full_like(xx, 0.7)], -1)
    alpha = np.clip((30 - np.hypot(yy - 60, xx - 50)) / 4 + 0.5, 0, 1)
    fg = np.array([0.9, 0.15, 0.1], np.float32)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return image.astype(np.float32), alpha.astype(np.float32)


def test_clean_matte_scores_zero():
    image, alpha = _scene()
    core = noref.solid_core(alpha)
    assert core[60, 50] and not core[60, 150]
    assert noref.detached_alpha(alpha, core) == 0.0
    assert noref.background_like_alpha(image, alpha) < 0.01 * alpha.sum() / 1000


def test_ghost_patch_far_from_person_is_counted():
    image, alpha = _scene()
    ghost = alpha.copy()
    ghost[20:40, 120:140] = 0.5  # grey alpha over plain background, far from the disc
    core = noref.solid_core(ghost)
    assert noref.detached_alpha(ghost, core) == pytest.approx(0.5 * 400 / 1000)
    bg_like = noref.background_like_alpha(image, ghost)
    assert bg_like == pytest.approx(0.2, rel=0.1)
    # a thin bridge of alpha joins the ghost to the person: no longer detached, still background
    bridged = ghost.copy()
    bridged[30, 50:121] = 0.3
    assert noref.detached_alpha(bridged, noref.solid_core(bridged)) == 0.0
    assert noref.background_like_alpha(image, bridged) >= 0.2 * 0.9


def test_opaque_ghost_is_not_core_when_mask_given():
    image, alpha = _scene()
    ghost = alpha.copy()
    ghost[20:40, 120:140] = 1.0  # opaque, apart from the disc
    mask = (alpha > 0.5).astype(np.float32)
    core = noref.solid_core(ghost, mask)
    assert core[60, 50] and not core[30, 130]
    assert noref.detached_alpha(ghost, core) == pytest.approx(0.4)
    frame = noref.noref_frame(image, ghost[None], mask[None])
    assert frame[0]["detached"] == pytest.approx(0.4)
    assert frame[0]["background_like"] < 0.01  # opaque ghost: the detached measure counts it
    big = alpha.copy()
    big[5:60, 95:155] = 1.0  # larger than the disc: without a mask it would be the core
    assert noref.solid_core(big)[30, 130] and not noref.solid_core(big, mask)[30, 130]


def test_other_instance_is_not_background():
    image, alpha = _scene()
    empty = np.zeros_like(alpha)
    scores = noref.noref_frame(image, np.stack([alpha, empty]))
    assert scores[1] == {"detached": 0.0, "background_like": 0.0, "mass": 0.0}
    assert scores[0]["detached"] == 0.0
