"""Temporal smoothing of mattes for any engine: motion-compensated average over a window of frames.

Why: per-frame engines (and per-frame rough masks) flicker. Measured on a real clip (issue 5), the
flicker that matters is of two kinds: a broad, frame-to-frame change of the level of hair and fur
(the whole halo brightens or darkens), and fine strand detail that the engine gets right or wrong
afresh each frame. The first is noise and averages out; the second is mostly real change (the
engine's frame-to-frame change of fine detail correlates with the truth's) and must not be
blurred away except where nothing moves.

So each instance's alpha is split into a *base* band (Gaussian low-pass, ``BASE_SIGMA`` of the long
side) and a *detail* band (the rest). Neighbouring frames (up to ``window`` each side) are warped to
the current one and averaged with the current alpha, neighbour ``j`` frames away weighing
``strength**j`` times the reliability of its flow:

- the flow used for an instance is its *body* motion: the optical flow of its opaque pixels,
  extended outwards over its soft edge. Hair over a moving background gets a flow that is a mix
  of both motions; the body's is what the hair follows.
- reliability is the forward-backward and colour check of :mod:`vfxmatte.flow` (so never across
  occlusions); the base band uses it blurred (``RELIABILITY_BLUR``), the detail band as is.
- the detail band weighs ``DETAIL_SHARE**j`` of that where the body moves and all of it where it
  is static (below ``STATIC_SPEED``): static regions do not flicker, moving detail stays fresh.
- motion faster than ``speed_limit`` fades the blend out (fast motion is left to the engine), and
  nothing acts farther than ``SUPPORT_RADIUS`` from the current alpha (flow on a flat background
  can be consistent yet wrong and must not drag a faint copy of the person there).

Causal mode (:class:`TemporalSmoother`, as ``vfxmatte run`` writes frames) uses the previous frames
only; it keeps the raw (unsmoothed) alphas of the last ``window`` frames, so a farm chunk with at
least ``window`` frames of pre-roll gives exactly what a whole-shot run does. Where the whole shot
is at hand (evaluation), :func:`smooth_sequence` uses both sides, so nothing lags.

Alphas that sum to at most 1 over instances still do: where the average overshoots, the excess
comes off what instances gained, never below their current alpha.

How to call it (pipeline, eval, review panel)::

    smoother = TemporalSmoother(strength)      # 0 turns it off
    smoother.reset()                           # at a cut / chunk start
    smoothed = smoother(frame_rgb, alphas)     # (H,W,3) float display sRGB, (N,H,W) -> (N,H,W)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vfxmatte.flow import (
    DEFAULT_FLOW_SIZE,
    FlowPair,
    flow_pairs,
    flow_to_previous,
    resize_map,
    to_grey,
)
from vfxmatte.jobspec import field_default

DEFAULT_STRENGTH = field_default("temporal_strength")  # one default: JobSpec's
DEFAULT_WINDOW = 4  # neighbours each side (causal: before); pre-roll this many frames on the farm
SUPPORT_RADIUS = 0.01  # of the long side: how far from the current alpha smoothing may act
# Motion (fraction of the plate width per frame) at which blending fades to ~37%: fast motion is
# left to the engine, whose alpha there is fresher than any warped one.
DEFAULT_SPEED_LIMIT = 0.02
BASE_SIGMA = 0.004  # of the long side: Gaussian sigma splitting base (averaged) from detail
DETAIL_SHARE = 0.25  # detail weight relative to the base, per frame of distance, where moving
STATIC_SPEED = 0.002  # of the plate width per frame: slower than this, detail is averaged fully
OPAQUE = 0.9  # alpha above which a pixel's flow is the instance's body motion
BODY_FLOW_SIGMA = 0.1  # of the flow image's long side: how far body motion is extended
RELIABILITY_BLUR = 0.0125  # of the flow image's long side: reliability blur for the base band


@dataclass
class _Frame:
    """One frame as the smoother needs it: flow-resolution grey and the raw alphas' two bands."""

    grey: np.ndarray
    base: np.ndarray  # (N, H, W)
    detail: np.ndarray  # (N, H, W)
    active: np.ndarray  # (N,) bool


def split_bands(alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,H,W) alphas -> (base, detail), base = Gaussian low-pass, base + detail = alphas."""
    sigma = BASE_SIGMA * max(alphas.shape[1:])
    base = np.stack([cv2.GaussianBlur(a, (0, 0), sigma) for a in alphas]) if len(alphas) else alphas
    return base, alphas - base


def body_flow(flow: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flow (h,w,2) replaced near the instance by the motion of its opaque pixels, extended outwards.

    alpha: the instance's current alpha at flow resolution. Normalised convolution: the flow of
    opaque pixels, Gaussian-weighted, divided by the weights; where no opaque pixel is near, the
    image flow stays.
    """
    h, w = alpha.shape
    sigma = BODY_FLOW_SIGMA * max(h, w)
    # The weights are smooth at this scale: blur on a grid ``step`` times coarser (cheap for a
    # large sigma), then interpolate back.
    step = max(1, int(sigma // 4))
    size = (max(1, round(w / step)), max(1, round(h / step)))
    opaque = (alpha > OPAQUE).astype(np.float32)
    stack = np.dstack([opaque, flow[..., 0] * opaque, flow[..., 1] * opaque])
    small = cv2.resize(stack, size, interpolation=cv2.INTER_AREA) if step > 1 else stack
    small = cv2.GaussianBlur(small, (0, 0), sigma / step)
    sums = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if step > 1 else small
    weight = sums[..., 0]
    near = weight > 0.02
    out = flow.copy()
    out[near] = sums[near, 1:] / weight[near, None]
    return out


def smooth_frame(
    current: _Frame,
    alphas: np.ndarray,
    neighbours: Sequence[tuple[int, _Frame, FlowPair]],
    strength: float,
    speed_limit: float = DEFAULT_SPEED_LIMIT,
) -> np.ndarray:
    """Average ``alphas`` (N,H,W, the current frame's) with its warped neighbours.

    neighbours: (distance in frames, neighbour, flow from the current frame to the neighbour).
    Inactive instances (no mask on this frame: the person left) keep their current alpha; a
    neighbour where an instance was inactive does not count for it.
    """
    n, h, w = alphas.shape
    if not neighbours or strength <= 0.0:
        return alphas
    radius = max(2, int(round(SUPPORT_RADIUS * max(h, w))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    fh, fw = current.grey.shape
    blur = RELIABILITY_BLUR * max(fh, fw)
    usable = [(d, o, p) for d, o, p in neighbours if o.base.shape == current.base.shape]
    rel_base = [cv2.GaussianBlur(p.reliable, (0, 0), blur) for _, _, p in usable]
    out = alphas.copy()
    for i in range(n):
        if not current.active[i]:
            continue
        support = cv2.dilate((alphas[i] > 1.0 / 255).astype(np.uint8), kernel)
        ys, xs = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
        if not len(ys):
            continue
        y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1  # work in the support's box
        box = (slice(y0, y1), slice(x0, x1))
        grid_x, grid_y = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        small = resize_map(alphas[i], fw, fh)
        base_num, detail_num = current.base[i][box].copy(), current.detail[i][box].copy()
        base_den = np.ones_like(base_num)
        detail_den = np.ones_like(base_num)
        for (dist, other, pair), rel_b in zip(usable, rel_base, strict=True):
            if not other.active[i]:
                continue
            flow_small = body_flow(pair.backward, small)
            speed = np.sqrt((flow_small**2).sum(-1)) * pair.scale / (abs(dist) * w)
            slow = strength ** abs(dist) * np.exp(-((speed / speed_limit) ** 2))
            static = np.exp(-((speed / STATIC_SPEED) ** 2))
            share = (DETAIL_SHARE + (1.0 - DETAIL_SHARE) * static) ** abs(dist)
            maps = np.dstack([flow_small, slow * rel_b, slow * share * pair.reliable])
            maps = cv2.resize(maps.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
            maps = maps[box]
            map_x = grid_x + maps[..., 0] * (w / fw)
            map_y = grid_y + maps[..., 1] * (h / fh)
            bands = np.dstack([other.base[i], other.detail[i]])
            warped = cv2.remap(
                bands, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            wb, wd = maps[..., 2], maps[..., 3]
            base_num += wb * warped[..., 0]
            base_den += wb
            detail_num += wd * warped[..., 1]
            detail_den += wd
        averaged = np.clip(base_num / base_den + detail_num / detail_den, 0.0, 1.0)
        out[i][box] = np.where(support[box].astype(bool), averaged, alphas[i][box])
    # Where the average overshoots a sum of 1 (an instance spread into another's pixels), take
    # the excess back from what each instance gained over its current alpha, in proportion: the
    # sum is 1 again and no instance ends below the engine's own alpha there.
    limit = np.maximum(alphas.sum(0), 1.0)
    excess = out.sum(0) - limit
    over = excess > 0
    if over.any():
        gain = np.maximum(out[:, over] - alphas[:, over], 0.0)
        out[:, over] -= excess[over] * gain / np.maximum(gain.sum(0), 1e-12)
    return out.astype(np.float32)


def _frame(
    frame_rgb: np.ndarray, alphas: np.ndarray, active: Sequence[bool] | None, flow_size: int
) -> _Frame:
    base, detail = split_bands(alphas)
    flags = np.ones(len(alphas), bool) if active is None else np.asarray(active, bool)
    return _Frame(to_grey(frame_rgb, flow_size), base, detail, flags)


class TemporalSmoother:
    """Causal smoothing stage with state; :meth:`reset` at cuts and chunk starts.

    strength: 0 (off) to <1; the weight of the previous frame (``strength**j`` for ``j`` frames
    back) where the flow is reliable. window: how many previous frames it averages.
    flow_size: long side of the image flow is computed on.
    """

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        flow_size: int = DEFAULT_FLOW_SIZE,
        speed_limit: float = DEFAULT_SPEED_LIMIT,
        window: int = DEFAULT_WINDOW,
    ):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
        if window < 1:
            raise ValueError(f"temporal window must be at least 1 frame, got {window}")
        self.strength = float(strength)
        self.flow_size = int(flow_size)
        self.speed_limit = float(speed_limit)
        self.window = int(window)
        self.reset()

    def reset(self) -> None:
        """Forget previous frames (a cut, a gap, the first frame of a chunk)."""
        self._history: deque[_Frame] = deque(maxlen=self.window)

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
        current = _frame(frame_rgb, alphas, active, self.flow_size)
        neighbours = []
        for dist, other in enumerate(reversed(self._history), start=1):
            if other.grey.shape != current.grey.shape:
                break
            pair = flow_to_previous(other.grey, current.grey, alphas.shape[2])
            neighbours.append((dist, other, pair))
        out = smooth_frame(current, alphas, neighbours, self.strength, self.speed_limit)
        self._history.append(current)
        return out


def smooth_sequence(
    frames_rgb: Sequence[np.ndarray],
    alphas: Sequence[np.ndarray],
    strength: float = DEFAULT_STRENGTH,
    bidirectional: bool = True,
    flow_size: int = DEFAULT_FLOW_SIZE,
    window: int = DEFAULT_WINDOW,
) -> list[np.ndarray]:
    """Smooth a whole shot: each frame with ``window`` neighbours each side (bidirectional) or
    before it only (causal, as :class:`TemporalSmoother` run over the shot).

    frames_rgb: per-frame (H,W,3) display-referred float; alphas: per-frame (N,H,W).
    """
    raw = [np.asarray(a, np.float32) for a in alphas]
    if strength == 0.0:
        return raw
    if not bidirectional:
        smoother = TemporalSmoother(strength, flow_size, window=window)
        return [smoother(f, a) for f, a in zip(frames_rgb, raw, strict=True)]
    if not 0.0 < strength < 1.0:
        raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
    frames = [_frame(f, a, None, flow_size) for f, a in zip(frames_rgb, raw, strict=True)]
    pairs: dict[tuple[int, int], FlowPair] = {}
    for t in range(len(frames)):
        for s in range(t + 1, min(len(frames), t + window + 1)):
            if frames[s].grey.shape == frames[t].grey.shape:
                pairs[t, s], pairs[s, t] = flow_pairs(
                    frames[t].grey, frames[s].grey, raw[t].shape[2]
                )
    out = []
    for t, a in enumerate(raw):
        neighbours = [
            (abs(s - t), frames[s], pairs[t, s])
            for s in range(max(0, t - window), min(len(frames), t + window + 1))
            if (t, s) in pairs
        ]
        out.append(smooth_frame(frames[t], a, neighbours, strength))
    return out
