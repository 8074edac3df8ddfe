"""The smoother's two edge rules, on synthetic windows with a known answer (fast).

The flow is given (not computed), several pixels off at the object's edge, as DIS is along a
moving silhouette. Without the rules the vote moves the current frame's edge towards the
misplaced neighbours (the error the demo shot showed); with them the edge stays the engine's.
"""

from __future__ import annotations

import numpy as np
import pytest

import vfxmatte.refine.temporal as temporal
from vfxmatte.flow import FlowPair
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, frame_data, smooth_frame

H, W = 48, 96
SCALE = 2  # plate pixels per flow pixel, as a 1920-wide plate has at the 960 proxy
EDGE = 40  # the object's left edge (plate column)


def _object(partial: float | None = None) -> np.ndarray:
    """(1, H, W): an opaque block from column EDGE on; ``partial``: column EDGE's alpha."""
    alpha = np.zeros((1, H, W), np.float32)
    alpha[0, 8:40, EDGE:88] = 1.0
    if partial is not None:
        alpha[0, 8:40, EDGE] = partial
    return alpha


def _window(plate: np.ndarray, alpha: np.ndarray, frames: int = 7) -> list:
    """A static shot: every frame the same plate and alpha (proxy at half resolution)."""
    return [frame_data(plate, alpha, flow_size=W // SCALE) for _ in range(frames)]


def _shifted_flow(flow_pixels: float, reliable: float = 1.0):
    """Every pair's flow says the content moved ``flow_pixels`` (flow resolution) to the left:
    a sample lands that far to the right of where the static object really is. ``reliable``:
    the flow's own confidence (forward-backward and colour checks)."""
    h, w = H // SCALE, W // SCALE
    back = np.zeros((h, w, 2), np.float32)
    back[..., 0] = flow_pixels
    trust = np.full((h, w), reliable, np.float32)
    pair = FlowPair(back, trust, np.zeros((h, w), np.float32), SCALE)
    return lambda c, s: pair


def test_a_neighbour_sampled_on_a_steep_edge_does_not_move_it(monkeypatch):
    """First frame of a shot, a flat plate (the plate cannot tell the flow is off) and an edge
    column at 0.75: the three later frames, sampled 1 plate pixel inside the object by a flow
    of middling reliability, say 1. Within the flow's error their alpha jumps, so their votes
    are unsteady and the edge stays the engine's; without the rule they outvote it."""
    plate = np.full((H, W, 3), 0.4, np.float32)
    alpha = _object(0.75)
    window = _window(plate, alpha, frames=4)
    flows = _shifted_flow(0.5, reliable=0.8)
    kept = smooth_frame(0, window, DEFAULT_STRENGTH, flows).alphas[0, 12:36, EDGE]
    assert np.abs(kept - 0.75).max() < 0.005
    monkeypatch.setattr(temporal, "POSITION_TOLERANCE", 0.0)  # the rule off
    moved = smooth_frame(0, window, DEFAULT_STRENGTH, flows).alphas[0, 12:36, EDGE]
    assert moved.min() > 0.76  # pulled towards the misplaced 1s


@pytest.mark.parametrize("partial", [0.75, 0.8])
def test_a_partly_covered_edge_pixel_is_not_pulled_to_a_misaligned_interior(monkeypatch, partial):
    """Red object over a dark wall; the edge column is partly covered (alpha ``partial``), so
    its colour is within the plate tolerance of the object's. Neighbours sampled 6 plate pixels
    inside the object (a flow 3 proxy pixels off) say 1 there. Compared at the sample alone their
    plates pass; compared half a flow pixel around it too, the wall next to the edge does not
    match the object next to the sample, and the vote leaves the edge as the engine made it."""
    wall = np.array([0.25, 0.2, 0.15], np.float32)
    red = np.array([0.55, 0.12, 0.08], np.float32)
    alpha = _object(partial)
    plate = alpha[0, ..., None] * red + (1 - alpha[0, ..., None]) * wall
    window = _window(plate, alpha)
    flows = _shifted_flow(3.0)
    kept = smooth_frame(3, window, DEFAULT_STRENGTH, flows).alphas[0, 12:36, EDGE]
    assert np.abs(kept - partial).max() < 0.02
    monkeypatch.setattr(temporal, "PLATE_REACH", 0.0)  # the plate compared at the sample only
    pulled = smooth_frame(3, window, DEFAULT_STRENGTH, flows).alphas[0, 12:36, EDGE]
    assert pulled.min() > partial + 0.1


def test_flicker_inside_a_soft_region_is_still_voted_away():
    """The rules leave what the smoother is for: a soft (hair-like) region at 0.5 whose current
    frame flickers to 0.7 is outvoted by six steady, plate-consistent neighbours (exact flow)."""
    rng = np.random.default_rng(4)
    plate = np.clip(rng.random((H, W, 3)).astype(np.float32), 0, 1)
    soft = np.zeros((1, H, W), np.float32)
    soft[0, 8:40, 30:80] = 0.5
    window = [frame_data(plate, soft, flow_size=W // SCALE) for _ in range(7)]
    flicker = soft.copy()
    flicker[0, 8:40, 30:80] = 0.7
    window[3] = frame_data(plate, flicker, flow_size=W // SCALE)
    out = smooth_frame(3, window, DEFAULT_STRENGTH, _shifted_flow(0.0)).alphas
    assert np.abs(out[0, 14:34, 36:74] - 0.5).max() < 0.03  # from 0.2 off
