"""Temporal smoothing of mattes for any engine: flow-warped previous alpha, blended where safe.

Why: per-frame engines (and per-frame rough masks) flicker, above all on static edges and hair.
The previous output alpha is warped along optical flow to the current frame and blended with the
current alpha where the flow is reliable (forward-backward check and colour match, so never
across occlusions) and the pixel is static or slow. This is a recursive (exponential) filter:
state from ``k`` frames back weighs at most ``strength**k``, which is what makes a farm chunk
with pre-roll converge to a whole-shot run. Where the whole shot is at hand (evaluation),
:func:`smooth_sequence` runs it forwards and backwards and averages, so it does not lag.

Every instance of a pixel gets the same blend weight, so alphas that sum to at most 1 still do.

How to call it (pipeline, eval, review panel)::

    smoother = TemporalSmoother(strength)      # 0 turns it off
    smoother.reset()                           # at a cut / chunk start
    smoothed = smoother(frame_rgb, alphas)     # (H,W,3) float display sRGB, (N,H,W) -> (N,H,W)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vfxmatte.flow import (
    DEFAULT_FLOW_SIZE,
    FlowPair,
    flow_to_previous,
    resize_flow,
    resize_map,
    to_grey,
    warp,
)

DEFAULT_STRENGTH = 0.6
SUPPORT_RADIUS = 0.01  # of the long side: how far from the current alpha smoothing may act
# Motion (fraction of the plate width per frame) at which blending fades to ~37%: fast motion is
# left to the engine, whose alpha there is fresher than any warped one.
DEFAULT_SPEED_LIMIT = 0.02


def blend_weight(
    pair: FlowPair, strength: float, plate_width: int, speed_limit: float
) -> np.ndarray:
    """Per-pixel weight (flow resolution) of the warped previous alpha."""
    slow = np.exp(-((pair.speed / max(speed_limit * plate_width, 1e-6)) ** 2))
    return (strength * pair.reliable * slow).astype(np.float32)


def blend(
    alphas: np.ndarray,
    prev_alphas: np.ndarray,
    pair: FlowPair,
    weight: np.ndarray,
    active: Sequence[bool] | None = None,
) -> np.ndarray:
    """Warp ``prev_alphas`` (N,H,W) to the current frame and blend with ``alphas`` by ``weight``.

    active: per instance; an inactive one (its mask is empty or missing on this frame: the person
    left the shot) keeps its current alpha, so no ghost of the previous frame lingers.

    The blend only acts near the current alpha (within ``support_radius`` of it): flow on flat
    background can be consistent yet wrong, and must not drag a faint copy of the person there.
    """
    n, h, w = alphas.shape
    flow = resize_flow(pair.backward, w, h)
    wgt = resize_map(weight, w, h)
    radius = max(2, int(round(SUPPORT_RADIUS * max(h, w))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    out = alphas.copy()
    for i in range(n):
        if active is not None and not active[i]:
            continue
        warped = warp(prev_alphas[i], flow)
        support = cv2.dilate((alphas[i] > 1.0 / 255).astype(np.uint8), kernel).astype(bool)
        out[i] = np.where(support, wgt * warped + (1.0 - wgt) * alphas[i], alphas[i])
    return np.clip(out, 0.0, 1.0)


class TemporalSmoother:
    """Causal smoothing stage with state; :meth:`reset` at cuts and chunk starts.

    strength: 0 (off) to <1; the weight of the warped previous alpha where the flow is reliable
    and the pixel static. flow_size: long side of the image flow is computed on.
    """

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        flow_size: int = DEFAULT_FLOW_SIZE,
        speed_limit: float = DEFAULT_SPEED_LIMIT,
    ):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
        self.strength = float(strength)
        self.flow_size = int(flow_size)
        self.speed_limit = float(speed_limit)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a cut, a gap, the first frame of a chunk)."""
        self._prev_grey: np.ndarray | None = None
        self._prev_alphas: np.ndarray | None = None

    @property
    def enabled(self) -> bool:
        return self.strength > 0.0

    def __call__(
        self, frame_rgb: np.ndarray, alphas: np.ndarray, active: Sequence[bool] | None = None
    ) -> np.ndarray:
        """Smooth one frame: frame_rgb (H,W,3) display-referred float, alphas (N,H,W) in [0,1].

        active: optional per-instance flags; inactive instances (no mask on this frame) are
        passed through unsmoothed.
        """
        alphas = np.asarray(alphas, np.float32)
        if not self.enabled:
            return alphas
        grey = to_grey(frame_rgb, self.flow_size)
        prev_grey, prev_alphas = self._prev_grey, self._prev_alphas
        if prev_grey is None or prev_alphas is None or prev_alphas.shape != alphas.shape:
            out = alphas
        else:
            pair = flow_to_previous(prev_grey, grey, alphas.shape[2])
            weight = blend_weight(pair, self.strength, alphas.shape[2], self.speed_limit)
            out = blend(alphas, prev_alphas, pair, weight, active)
        self._prev_grey, self._prev_alphas = grey, out
        return out


def smooth_sequence(
    frames_rgb: Sequence[np.ndarray],
    alphas: Sequence[np.ndarray],
    strength: float = DEFAULT_STRENGTH,
    bidirectional: bool = True,
    flow_size: int = DEFAULT_FLOW_SIZE,
) -> list[np.ndarray]:
    """Smooth a whole shot: forward pass, and (bidirectional) a backward pass, averaged.

    frames_rgb: per-frame (H,W,3) display-referred float; alphas: per-frame (N,H,W).
    """
    smoother = TemporalSmoother(strength, flow_size)
    forward = [smoother(f, a) for f, a in zip(frames_rgb, alphas, strict=True)]
    if not bidirectional or strength == 0.0:
        return forward
    smoother.reset()
    backward = [
        smoother(f, a) for f, a in zip(reversed(frames_rgb), reversed(alphas), strict=True)
    ][::-1]
    return [0.5 * (f + b) for f, b in zip(forward, backward, strict=True)]
