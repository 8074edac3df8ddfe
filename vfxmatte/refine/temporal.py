"""Temporal smoothing of mattes for any engine: a robust vote over a window of frames.

Why: per-frame engines (and per-frame rough masks) flicker, and an engine sometimes returns a
whole frame wrong (an opaque body at ~0.67 while the frames around it say 1.0). An average over
time spreads such a frame to its neighbours and, made recursive, grows halos and makes a frame
depend on where the job started. This smoother is instead a *pure function of a window*: the
smoothed alpha of frame ``t`` depends only on the raw (engine + instance consistency) alphas and
plates of frames ``t-k .. t+k`` (truncated at the ends of the shot, the same way for every run).
Nothing is carried beyond the window, so a resumed job or a farm chunk that recomputes the ``k``
lead-in and look-ahead frames writes the same bytes as a whole run.

Per instance and pixel, the candidates are the current frame's alpha and each neighbour's alpha
warped to the current frame with optical flow (:mod:`vfxmatte.flow`, at proxy resolution, once per
frame pair). Each neighbour weighs ``strength**|d|`` times its flow reliability (forward-backward
check) times how well its warped *plate* matches the current plate at full resolution (so no vote
across occlusions or misaligned strands); the current frame weighs 1. The result is a weighted
median followed by one Tukey-biweight step around it: candidates within ``INLIER_TOLERANCE`` of
the median are averaged (noise goes down as with a mean), the rest get no weight (an outlier frame
is outvoted, not averaged in; when the current frame is the outlier and its neighbours agree, the
neighbours win). The result always lies between agreeing candidates, so alpha is never created
outside the support of the current frame and its agreeing neighbours, and pixels where all
candidates agree (solid interiors, clean background) are returned untouched.

How to call it::

    smoother = WindowSmoother(strength)                  # bidirectional, lag DEFAULT_WINDOW
    for index, rgb, alphas in frames_of_a_shot:
        for done_index, result in smoother.push(index, rgb, alphas):
            write(done_index, result.alphas)            # result.override / result.large: flags
    for done_index, result in smoother.flush():         # end of shot: the last k frames
        write(done_index, result.alphas)

A job that writes frames ``a..b`` of a shot pushes ``a-k .. b+k`` (clamped to the shot) and writes
only ``a..b``; see :class:`WindowSmoother`. :class:`TemporalSmoother` is the causal (lag 0) form:
the window is the previous ``k`` frames and the current one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vfxmatte.flow import DEFAULT_FLOW_SIZE, FlowPair, flow_pairs, to_grey
from vfxmatte.jobspec import field_default

DEFAULT_STRENGTH = field_default("temporal_strength")  # one default: JobSpec's
DEFAULT_WINDOW = 2  # neighbours each side: the look-ahead (lag) and lead-in a job must run
CURRENT_WEIGHT = 2.0  # the current frame's vote: it takes most of the neighbours to outvote it
INLIER_TOLERANCE = 0.2  # alpha difference from the median at which a candidate stops counting
PLATE_TOLERANCE = (
    0.06  # colour (0-1, worst channel) error of a warped plate at which its vote falls to ~37%
)
AGREE = 1e-3  # candidates closer than this everywhere at a pixel: the pixel is left alone
LARGE_OVERRIDE = 0.08  # mean |smoothed - raw| over an instance's support flagged as large
SUPPORT = 1.0 / 255.0  # alpha above which a pixel belongs to an instance's support


@dataclass(frozen=True)
class FrameData:
    """One frame as the smoother needs it.

    alphas: (N, H, W) float32 raw alphas in [0, 1]; rgb: (H, W, 3) float32 display-referred plate
    clipped to [0, 1] (colour, not luminance: a red shirt on a brown wall can share its grey); proxy: uint8 grey at flow resolution; active: (N,) bool, False where an
    instance has no mask on this frame (it is passed through and casts no vote).
    """

    alphas: np.ndarray
    rgb: np.ndarray
    proxy: np.ndarray
    active: np.ndarray


@dataclass(frozen=True)
class Smoothed:
    """A smoothed frame: alphas (N, H, W) and, per instance, how much the smoother overrode the
    engine (mean |smoothed - raw| over the union of both supports) and whether that is large
    (> ``LARGE_OVERRIDE``), for the review panel's stability graph and the farm summary."""

    alphas: np.ndarray
    override: np.ndarray
    large: np.ndarray


def frame_data(
    frame_rgb: np.ndarray,
    alphas: np.ndarray,
    active: Sequence[bool] | None = None,
    flow_size: int = DEFAULT_FLOW_SIZE,
) -> FrameData:
    """Build a :class:`FrameData` from a display-referred (H, W, 3) float plate and raw alphas."""
    alphas = np.asarray(alphas, np.float32)
    rgb = np.clip(np.asarray(frame_rgb, np.float32), 0.0, 1.0)
    flags = np.ones(len(alphas), bool) if active is None else np.asarray(active, bool)
    return FrameData(alphas, rgb, to_grey(rgb, flow_size), flags)


# (index of the current frame in the window, index of the neighbour) -> flow current -> neighbour
FlowLookup = Callable[[int, int], FlowPair]


def smooth_frame(
    center: int,
    window: Sequence[FrameData],
    strength: float = DEFAULT_STRENGTH,
    flows: FlowLookup | None = None,
) -> Smoothed:
    """Smooth ``window[center]`` from the frames of ``window`` (a pure function of its inputs).

    flows: optional lookup of the flow from the centre to a neighbour (so a streaming caller
    computes each frame pair once); by default computed here with :func:`vfxmatte.flow.flow_pairs`.
    """
    current = window[center]
    raw = current.alphas
    n, h, w = raw.shape
    neighbours = [
        s
        for s in range(len(window))
        if s != center and window[s].alphas.shape == raw.shape and strength > 0.0
    ]
    if not neighbours or not current.active.any():
        return _result(raw, raw.copy())
    if flows is None:

        def flows(c: int, s: int) -> FlowPair:
            return flow_pairs(window[c].proxy, window[s].proxy, w)[0]

    pairs = {s: flows(center, s) for s in neighbours}
    box = _work_box([window[s].alphas for s in [center, *neighbours]], pairs.values(), h, w)
    out = raw.copy()
    if box is None:
        return _result(raw, out)
    y0, y1, x0, x1 = box
    cur_rgb = current.rgb[y0:y1, x0:x1]
    warped, weights = [], []
    for s in neighbours:
        other = window[s]
        flow, reliable = _flow_in_box(pairs[s], box, h, w)
        gx, gy = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        stack = np.dstack([other.rgb, *other.alphas])
        moved = cv2.remap(
            stack, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        moved = moved.reshape(y1 - y0, x1 - x0, n + 3)
        plate_err = np.abs(moved[..., :3] - cur_rgb).max(-1)
        plate_ok = np.exp(-((plate_err / PLATE_TOLERANCE) ** 2))
        weights.append(strength ** abs(s - center) * reliable * plate_ok)
        warped.append((moved[..., 3:].transpose(2, 0, 1), other.active))
    for i in range(n):
        if not current.active[i]:
            continue
        values = [raw[i, y0:y1, x0:x1]]
        votes = [np.full_like(values[0], CURRENT_WEIGHT)]
        for (alpha, active), weight in zip(warped, weights, strict=True):
            if active[i]:
                values.append(alpha[i])
                votes.append(weight)
        if len(values) == 1:
            continue
        stack_v, stack_w = np.stack(values), np.stack(votes)
        todo = (stack_v.max(0) - stack_v.min(0)) > AGREE
        if todo.any():
            region = out[i, y0:y1, x0:x1]
            region[todo] = robust_vote(stack_v[:, todo], stack_w[:, todo])
    return _result(raw, _cap_sum(raw, out))


def robust_vote(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of (m, P) candidates: a weighted median, then one Tukey-biweight step around it.

    Why a median first: it ignores any minority, however far off; the biweight step then averages
    the candidates that agree with it (within ``INLIER_TOLERANCE``), which removes noise as a mean
    would, and never lets a rejected candidate pull the result.
    """
    median = weighted_median(values, weights)
    u = (values - median) / INLIER_TOLERANCE
    bw = weights * np.clip(1.0 - u * u, 0.0, None) ** 2
    total = bw.sum(0)
    return np.where(total > 0, (bw * values).sum(0) / np.maximum(total, 1e-12), median)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of (m, P): the lowest value whose cumulative weight reaches half the total."""
    order = np.argsort(values, axis=0, kind="stable")
    v = np.take_along_axis(values, order, 0)
    cum = np.cumsum(np.take_along_axis(weights, order, 0), 0)
    pick = np.minimum((cum < 0.5 * cum[-1:]).sum(0), len(values) - 1)
    return np.take_along_axis(v, pick[None], 0)[0]


def _work_box(
    alphas: Sequence[np.ndarray], pairs, h: int, w: int
) -> tuple[int, int, int, int] | None:
    """Box (y0, y1, x0, x1) holding every instance's support in any window frame, padded by the
    largest motion: outside it every candidate is 0 and nothing changes."""
    support = np.zeros((h, w), bool)
    for a in alphas:
        support |= (a > 0).any(0)
    ys, xs = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
    if not len(ys):
        return None
    pad = 2 + int(np.ceil(max(float(p.speed.max()) for p in pairs)))
    return (
        max(0, ys[0] - pad),
        min(h, ys[-1] + 1 + pad),
        max(0, xs[0] - pad),
        min(w, xs[-1] + 1 + pad),
    )


def _flow_in_box(
    pair: FlowPair, box: tuple[int, int, int, int], h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """The proxy flow (in plate pixels) and its reliability, sampled bilinearly at the box's
    plate pixels (as a resize of the whole map would give, without making one)."""
    y0, y1, x0, x1 = box
    fh, fw = pair.reliable.shape
    sx, sy = fw / w, fh / h
    px = (np.arange(x0, x1, dtype=np.float32) + 0.5) * sx - 0.5
    py = (np.arange(y0, y1, dtype=np.float32) + 0.5) * sy - 0.5
    mx, my = np.meshgrid(px, py)
    maps = np.dstack([pair.backward, pair.reliable]).astype(np.float32)
    sampled = cv2.remap(maps, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    flow = sampled[..., :2] * np.array([1.0 / sx, 1.0 / sy], np.float32)
    return flow, sampled[..., 2]


def _cap_sum(raw: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Where instances now sum above max(1, their raw sum), take the excess back from what each
    gained over its raw alpha, in proportion: no instance ends below its raw alpha there."""
    limit = np.maximum(raw.sum(0), 1.0)
    excess = out.sum(0) - limit
    over = excess > 1e-6
    if over.any():
        gain = np.maximum(out[:, over] - raw[:, over], 0.0)
        out[:, over] -= excess[over] * gain / np.maximum(gain.sum(0), 1e-12)
    return out


def _result(raw: np.ndarray, out: np.ndarray) -> Smoothed:
    out = out.astype(np.float32)
    support = (raw > SUPPORT) | (out > SUPPORT)
    diff = np.abs(out - raw) * support
    counts = support.reshape(len(raw), -1).sum(1)
    override = diff.reshape(len(raw), -1).sum(1) / np.maximum(counts, 1)
    return Smoothed(out, override.astype(np.float32), override > LARGE_OVERRIDE)


class WindowSmoother:
    """Bidirectional streaming form of :func:`smooth_frame`: buffers ``2k+1`` frames and emits
    frame ``t`` once ``t+k`` has arrived (lag ``k = window``); :meth:`flush` at the end of a shot.

    Determinism: frame ``t``'s result depends only on the frames pushed from ``t-k`` to ``t+k``
    since the last :meth:`reset`, counted in push order. A job writing frames ``a..b`` of a shot
    must therefore push from ``max(shot_start, a-k)`` (lead-in, matted but not written) to
    ``min(shot_end, b+k)`` (look-ahead), then :meth:`flush`; a cut or gap in the frames is a
    :meth:`reset` (after a flush). The ends of the window are the *shot's*, never the job's.
    """

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        window: int = DEFAULT_WINDOW,
        flow_size: int = DEFAULT_FLOW_SIZE,
    ):
        _check(strength, window)
        self.strength = float(strength)
        self.window = int(window)
        self.flow_size = int(flow_size)
        self.reset()

    def reset(self) -> None:
        """Forget every buffered frame (a cut, a gap, a new chunk) without emitting them."""
        self._frames: deque[tuple[int, int, FrameData]] = deque()  # (push position, index, data)
        self._flows: dict[tuple[int, int], FlowPair] = {}
        self._pushed = 0
        self._next = 0  # push position of the next frame to emit

    def push(
        self,
        index: int,
        frame_rgb: np.ndarray,
        alphas: np.ndarray,
        active: Sequence[bool] | None = None,
    ) -> list[tuple[int, Smoothed]]:
        """Add a frame (caller's ``index``, kept as given); return the frames now complete."""
        data = frame_data(frame_rgb, alphas, active, self.flow_size)
        self._frames.append((self._pushed, index, data))
        self._pushed += 1
        done = []
        while self._next + self.window < self._pushed:
            done.append(self._emit())
        return done

    def flush(self) -> list[tuple[int, Smoothed]]:
        """End of the shot: emit every frame still buffered (their windows truncated)."""
        done = []
        while self._next < self._pushed:
            done.append(self._emit())
        self.reset()
        return done

    def _emit(self) -> tuple[int, Smoothed]:
        t = self._next
        frames = [f for f in self._frames if abs(f[0] - t) <= self.window]
        positions = [f[0] for f in frames]
        center = positions.index(t)
        result = smooth_frame(
            center,
            [f[2] for f in frames],
            self.strength,
            lambda c, s: self._flow(frames[c], frames[s]),
        )
        self._next += 1
        while self._frames and self._frames[0][0] < self._next - self.window:
            self._frames.popleft()
        first = self._next - self.window
        self._flows = {k: v for k, v in self._flows.items() if min(k) >= first}
        return frames[center][1], result

    def _flow(self, cur, other) -> FlowPair:
        """Flow from frame ``cur`` to ``other`` (push records); each pair is computed once."""
        key = (cur[0], other[0])
        if key not in self._flows:
            width = cur[2].alphas.shape[2]
            self._flows[key], self._flows[key[::-1]] = flow_pairs(
                cur[2].proxy, other[2].proxy, width
            )
        return self._flows[key]


class TemporalSmoother:
    """Causal (lag 0) form for callers that need each frame back at once: frame ``t`` is voted on
    by frames ``t-k .. t`` only. Deterministic with ``k`` frames of pre-roll; :meth:`reset` at cuts.
    """

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        flow_size: int = DEFAULT_FLOW_SIZE,
        window: int = DEFAULT_WINDOW,
    ):
        _check(strength, window)
        self.strength = float(strength)
        self.flow_size = int(flow_size)
        self.window = int(window)
        self.reset()

    def reset(self) -> None:
        """Forget previous frames (a cut, a gap, the first frame of a chunk)."""
        self._history: deque[FrameData] = deque(maxlen=self.window + 1)

    @property
    def enabled(self) -> bool:
        return self.strength > 0.0

    def __call__(
        self, frame_rgb: np.ndarray, alphas: np.ndarray, active: Sequence[bool] | None = None
    ) -> np.ndarray:
        """Smooth one frame: frame_rgb (H,W,3) display-referred float, alphas (N,H,W) in [0,1]."""
        alphas = np.asarray(alphas, np.float32)
        if not self.enabled:
            return alphas
        self._history.append(frame_data(frame_rgb, alphas, active, self.flow_size))
        return smooth_frame(len(self._history) - 1, list(self._history), self.strength).alphas


def _check(strength: float, window: int) -> None:
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
    if window < 1:
        raise ValueError(f"temporal window must be at least 1 frame, got {window}")


def smooth_sequence(
    frames_rgb: Sequence[np.ndarray],
    alphas: Sequence[np.ndarray],
    strength: float = DEFAULT_STRENGTH,
    bidirectional: bool = True,
    flow_size: int = DEFAULT_FLOW_SIZE,
    window: int = DEFAULT_WINDOW,
) -> list[Smoothed]:
    """Smooth a whole shot (one cut): bidirectional windows, or causal as :class:`TemporalSmoother`.

    frames_rgb: per-frame (H,W,3) display-referred float; alphas: per-frame (N,H,W).
    """
    raw = [np.asarray(a, np.float32) for a in alphas]
    if strength == 0.0:
        return [_result(a, a.copy()) for a in raw]
    if bidirectional:
        smoother = WindowSmoother(strength, window, flow_size)
        done = []
        for t, (rgb, a) in enumerate(zip(frames_rgb, raw, strict=True)):
            done += smoother.push(t, rgb, a)
        return [r for _, r in sorted(done + smoother.flush(), key=lambda x: x[0])]
    _check(strength, window)
    history: deque[FrameData] = deque(maxlen=window + 1)
    out = []
    for rgb, a in zip(frames_rgb, raw, strict=True):
        history.append(frame_data(rgb, a, None, flow_size))
        out.append(smooth_frame(len(history) - 1, list(history), strength))
    return out
