"""Premultiplied colour layers: foreground estimated (no background fringe), values above 1 kept."""

import numpy as np

from vfxmatte.refine.foreground import premultiplied_foreground


def test_soft_edge_keeps_foreground_colour_and_hdr_values():
    fg, bg = np.array([4.0, 0.2, 0.1], np.float32), np.array([0.0, 0.0, 1.0], np.float32)
    alpha = np.zeros((40, 40), np.float32)
    alpha[:, :18] = 1.0
    alpha[:, 18:22] = 0.5
    plate = alpha[..., None] * fg + (1 - alpha[..., None]) * bg  # scene-linear, above 1
    out = premultiplied_foreground(plate, alpha)
    np.testing.assert_allclose(out[20, 5], fg, atol=1e-3)  # solid: the plate itself, 4.0 kept
    np.testing.assert_allclose(out[20, 19], 0.5 * fg, atol=2e-2)  # edge: alpha * foreground
    naive = plate[20, 19] * 0.5  # plate * alpha would carry the blue background into the edge
    assert naive[2] > 0.25 and out[20, 19, 2] < 0.06
    assert np.abs(out[:, 25:]).max() < 1e-6  # nothing where alpha is 0
