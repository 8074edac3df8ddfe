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
warped to the current frame with optical flow (:mod:`vfxmatte.flow`, at proxy resolution: DIS
once per neighbouring pair, longer pairs composed). Each neighbour weighs ``strength**|d|`` times
its flow reliability (forward-backward check) times how well its warped *plate* matches the
current plate (so no vote across occlusions or misaligned strands) times its corroboration: how
closely another candidate backs its value (a lone neighbour keeps only ``NEIGHBOUR_FLOOR`` of its
vote); the current frame weighs ``CURRENT_WEIGHT``. The result is a weighted median followed by
one Tukey-biweight step around it: candidates within ``INLIER_TOLERANCE`` of the median are
averaged (noise goes down as with a mean), the rest get no weight (an outlier frame is outvoted,
not averaged in; when the current frame is the outlier and its neighbours agree, the neighbours
win). The result always lies between agreeing candidates, so alpha is never created outside the
support of the current frame and its agreeing neighbours, and pixels where all candidates agree
(solid interiors, clean background) are returned untouched. Where the current frame is
confident (alpha within ``CONFIDENT`` of 0 or 1) the vote may move it only as far as every
voting neighbour goes, and only when neighbours before *and* after the frame vote and agree with
each other (:func:`_unanimous_bound`): flow error along moving edges is what usually disagrees
with a confident engine, and it does not agree from both sides. Where candidates may disagree is
found at flow resolution first, so only those plate pixels are sampled and voted on at full
resolution (a 4K frame costs what its soft edges cost).

Two edge rules keep motion-compensation error out of the vote (:func:`_steadiness`): a
neighbour's plate is compared at its sample and ``PLATE_REACH`` flow pixels around it (a flow
several pixels off at a moving edge passes a single-pixel check where a partly covered pixel
hides the colour step), and a neighbour's vote falls with how much its alpha changes within the
flow's error (``POSITION_FLOOR`` flow pixels, more where the flow is less reliable): a warped
steep edge is a blurred, shifted edge. Steep-edge votes are restored only where neighbours on
both sides agree on a confident value against an unsure current frame, so a bad frame's body is
still outvoted up to its rim.

Constants were tuned on synth clips (seeds 11, 12); the edge rules came from the demo shot
(every frame's SAD with smoothing at most without; before them up to +0.31%, most of the added
error at pixels next to edges); the current frame's vote was raised
from 1.5 to 1.75 after the check clips (seeds 21, 22, dev-sets/clips) showed single frames at
+5% MAD. The confident-pixel rule came from the demo shot (frames up to +1.1% SAD with
smoothing, mostly at pixels the engine had at 0 or 1); measure with ``vfxmatte eval CLIP
--temporal-strength 0.9 --against OFF`` where OFF is the same command's run at strength 0.

How to call it::

    smoother = WindowSmoother(strength)                  # bidirectional, lag DEFAULT_WINDOW
    for index, rgb, alphas in frames_of_a_shot:
        for done_index, result in smoother.push(index, rgb, alphas):
            write(done_index, result.alphas)            # result.override / result.large: flags
    for done_index, result in smoother.flush():         # end of shot: the last k frames
        write(done_index, result.alphas)

A job that writes frames ``a..b`` of a shot pushes ``a-k .. b+k`` (clamped to the shot) and writes
only ``a..b``; see :class:`WindowSmoother`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vfxmatte.flow import (
    DEFAULT_FLOW_SIZE,
    FlowPair,
    compose,
    flow_pairs,
    pairs_from_flows,
    pixel_grid,
    to_grey,
)
from vfxmatte.jobspec import field_default

DEFAULT_STRENGTH = field_default("temporal_strength")  # one default: JobSpec's
DEFAULT_WINDOW = 3  # neighbours each side: the look-ahead (lag) and lead-in a job must run
CURRENT_WEIGHT = 1.75  # the current frame's vote: it takes most of the neighbours to outvote it
INLIER_TOLERANCE = 0.3  # alpha difference from the median at which a candidate stops counting
PLATE_TOLERANCE = 0.15  # colour (0-1, worst channel) error of a warped plate: vote falls to ~37%
AGREE = 1e-3  # candidates closer than this everywhere at a pixel: the pixel is left alone
NEIGHBOUR_AGREEMENT = 0.1  # alpha scale of neighbour corroboration (0: off), see _corroboration
NEIGHBOUR_FLOOR = 0.2  # weight kept by a neighbour that no other candidate backs
CANDIDATE_GROW = 1  # flow-resolution pixels the disagreement mask is grown by (see _candidates)
CONFIDENT = 0.02  # current alpha this close to 0 or 1 moves only as far as all neighbours agree
VOTER = 0.1  # a neighbour's weight (before corroboration) from which it counts in that agreement
VOTER_SPREAD = 0.1  # ... and how closely those neighbours must agree with each other
LARGE_OVERRIDE = 0.08  # mean |smoothed - raw| over an instance's support flagged as large
SUPPORT = 1.0 / 255.0  # alpha above which a pixel belongs to an instance's support
PLATE_REACH = 0.5  # flow-resolution pixels around a sample its plate is also compared at
POSITION_FLOOR = 0.25  # flow error (flow-resolution pixels) of a fully reliable flow ...
POSITION_ERROR = 1.0  # ... plus this much times (1 - reliability): where a sample may really be
POSITION_TOLERANCE = 0.1  # alpha change within that error at which a neighbour's vote ~37%


@dataclass(frozen=True)
class FrameData:
    """One frame as the smoother needs it.

    alphas: (N, H, W) raw alphas in [0, 1]; rgb: (H, W, 3) display-referred plate (colour, not
    luminance: a red shirt on a brown wall can share its grey; compared clipped to [0, 1]); both
    float32, or float16 where the caller stores held frames at half precision (``storage``);
    proxy: uint8 grey at flow resolution; proxy_alphas: (N, h, w) the alphas area-averaged to
    flow resolution (where candidates may disagree is found there, cheaply); active: (N,) bool,
    False where an instance has no mask on this frame (it is passed through and casts no vote).
    """

    alphas: np.ndarray
    rgb: np.ndarray
    proxy: np.ndarray
    active: np.ndarray
    proxy_alphas: np.ndarray


@dataclass(frozen=True)
class Smoothed:
    """A smoothed frame: alphas (N, H, W) and, per instance, how much the smoother overrode the
    engine (mean |smoothed - raw| over the union of both supports) and whether that is large
    (> ``LARGE_OVERRIDE``), for the review panel's stability graph and the farm summary."""

    alphas: np.ndarray
    override: np.ndarray
    large: np.ndarray
    # (ys, xs): the only pixels where ``alphas`` may differ from the raw alphas (None: nowhere),
    # so a caller re-checks instance consistency there only (a 4K frame's edges, not its area)
    changed: tuple[np.ndarray, np.ndarray] | None = None


def frame_data(
    frame_rgb: np.ndarray,
    alphas: np.ndarray,
    active: Sequence[bool] | None = None,
    flow_size: int = DEFAULT_FLOW_SIZE,
    storage: type[np.floating] = np.float32,
) -> FrameData:
    """Build a :class:`FrameData` from a display-referred (H, W, 3) float plate and raw alphas.

    ``storage``: the dtype the full-resolution plate and alphas are kept in while the frame is
    held (float16 halves a held 4K frame); the proxies are made from the values as given."""
    alphas = np.asarray(alphas, np.float32)
    rgb = np.ascontiguousarray(frame_rgb, np.float32)  # clipped where sampled (no 4K copy)
    flags = np.ones(len(alphas), bool) if active is None else np.asarray(active, bool)
    proxy = to_grey(rgb, flow_size)
    size = (proxy.shape[1], proxy.shape[0])
    small = [cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in alphas]
    proxy_alphas = np.stack(small) if small else np.zeros((0, *proxy.shape), np.float32)
    alphas, rgb = alphas.astype(storage, copy=False), rgb.astype(storage, copy=False)
    return FrameData(alphas, rgb, proxy, flags, proxy_alphas)


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
        cache = FlowCache()

        def flows(c: int, s: int) -> FlowPair:
            return cache.get(dict(enumerate(window)), c, s)

    pairs = {s: flows(center, s) for s in neighbours}
    ys, xs = _candidates(current, [window[s] for s in neighbours], [pairs[s] for s in neighbours])
    out = raw.astype(np.float32)  # a copy, computed in float32 whatever the storage
    if not len(ys):
        return _result(raw, out)
    # where any instance's candidates disagree: only there are plates and edges checked
    moves = []
    for s in neighbours:
        fx, fy, reliable = _flow_at(pairs[s], xs, ys, h, w)
        mx, my = xs + fx, ys + fy
        both = current.active & window[s].active
        moved = [_sample(window[s].alphas[i], mx, my) if both[i] else None for i in range(n)]
        moves.append((mx, my, reliable, moved))
    lo, hi = raw[:, ys, xs].copy(), raw[:, ys, xs].copy()
    for _, _, _, moved in moves:
        for i, value in enumerate(moved):
            if value is not None:
                np.minimum(lo[i], value, out=lo[i])
                np.maximum(hi[i], value, out=hi[i])
    keep = ((hi - lo) > AGREE)[current.active].any(0)
    if not keep.any():
        return _result(raw, out, ys, xs)
    vy, vx = ys[keep], xs[keep]
    offsets = _offsets(PLATE_REACH * pairs[neighbours[0]].scale)
    cur_rgb = [
        np.clip(_sample(current.rgb, vx + dx, vy + dy), 0.0, 1.0) if dx or dy else
        np.clip(current.rgb[vy, vx], 0.0, 1.0)
        for dx, dy in offsets
    ]  # fmt: skip
    warped, weights = [], []
    for s, (mx, my, reliable, moved) in zip(neighbours, moves, strict=True):
        other = window[s]
        mx, my, reliable = mx[keep], my[keep], reliable[keep]
        plate_err = np.zeros(len(vx), np.float32)
        for (dx, dy), cur in zip(offsets, cur_rgb, strict=True):
            err = np.abs(np.clip(_sample(other.rgb, mx + dx, my + dy), 0.0, 1.0) - cur)
            np.maximum(plate_err, err[:, 0], out=plate_err)  # not .max(-1): slow
            np.maximum(plate_err, err[:, 1], out=plate_err)
            np.maximum(plate_err, err[:, 2], out=plate_err)
        plate_ok = np.exp(-((plate_err / PLATE_TOLERANCE) ** 2))
        weights.append(strength ** abs(s - center) * reliable * plate_ok)
        reach = (POSITION_FLOOR + POSITION_ERROR * (1.0 - reliable)) * pairs[s].scale
        warped.append(
            [
                (value[keep], _steadiness(other.alphas[i], mx, my, value[keep], reach))
                if value is not None
                else None
                for i, value in enumerate(moved)
            ]
        )
    for i in range(n):
        if not current.active[i]:
            continue
        values = [raw[i, vy, vx]]
        votes = [np.full_like(values[0], CURRENT_WEIGHT)]
        sides = [0]  # the current frame; then -1 / +1: the neighbour is before / after it
        steadiness = []
        for s, moved, weight in zip(neighbours, warped, weights, strict=True):
            if moved[i] is not None:
                value, steady = moved[i]
                values.append(value)
                votes.append(weight)
                steadiness.append(steady)
                sides.append(1 if s > center else -1)
        if len(values) > 1 and POSITION_TOLERANCE > 0:
            # neighbours agreeing from both sides on a confident value keep their votes on
            # steep edges, except against a confident current frame (see _steadiness)
            cur, others = values[0], np.stack(values[1:])
            sure = (others >= 1.0 - CONFIDENT).all(0) | (others <= CONFIDENT).all(0)
            agreed = (
                _voters_agree(others, np.stack(votes[1:]), np.array(sides[1:]))[0]
                & sure
                & (cur > CONFIDENT)
                & (cur < 1.0 - CONFIDENT)
            )
            for j, steady in enumerate(steadiness):
                votes[j + 1] = votes[j + 1] * np.where(agreed, 1.0, steady)
        if len(values) == 1:
            continue
        stack_v, stack_w = np.stack(values), np.stack(votes)
        todo = (stack_v.max(0) - stack_v.min(0)) > AGREE
        if todo.any():
            v, wgt = stack_v[:, todo], stack_w[:, todo]
            if NEIGHBOUR_AGREEMENT > 0:
                wgt = wgt.copy()
                wgt[1:] *= _corroboration(v, wgt)
            voted = robust_vote(v, wgt)
            if CONFIDENT > 0:
                voted = _unanimous_bound(v, stack_w[:, todo], np.array(sides), voted)
            out[i, vy[todo], vx[todo]] = voted
    _cap_sum(raw, out, ys, xs)
    return _result(raw, out, ys, xs)


def _unanimous_bound(
    values: np.ndarray, weights: np.ndarray, sides: np.ndarray, voted: np.ndarray
) -> np.ndarray:
    """Where the current frame (row 0 of (m, P) candidates) is confident (alpha within
    ``CONFIDENT`` of 0 or 1), keep ``voted`` between the current value and the value every
    voting neighbour (weight above ``VOTER``) supports: alpha is created (or taken away) there
    only as far as the least of the neighbours goes, and not at all unless voters on both sides
    of the frame (``sides``: -1 before, +1 after, 0 the current frame) back the move.

    Why: at a confident pixel the engine is usually right; neighbours that disagree with it are
    mostly motion-compensation error along moving edges (measured on the demo shot: most of the
    error the vote added was at pixels the engine had at 0 or 1), and neighbours on one side only
    share one direction of that error. A frame that is wrong with confidence (a hole, a missed
    limb) is still corrected where all its neighbours, before and after it, agree.
    """
    cur = values[0]
    enough, lowest, highest = _voters_agree(values[1:], weights[1:], sides[1:])
    hi = np.where(enough, np.maximum(cur, lowest), cur)
    lo = np.where(enough, np.minimum(cur, highest), cur)
    low_conf, high_conf = cur <= CONFIDENT, cur >= 1.0 - CONFIDENT
    voted = np.where(low_conf, np.minimum(voted, hi), voted)
    return np.where(high_conf, np.maximum(voted, lo), voted)


def _voters_agree(
    values: np.ndarray, weights: np.ndarray, sides: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of (m, P) neighbour candidates: whether voting neighbours (weight above
    ``VOTER``) both before and after the frame (``sides`` -1 / +1) lie within ``VOTER_SPREAD``
    of each other, and the lowest and highest voting value.

    Why: a flow error along a moving edge misplaces the neighbours on the two sides of a frame
    differently (the demo's edge: 1, 1 before, 0 after); neighbours that agree from both sides
    describe the matte.
    """
    voter = weights > VOTER
    both = (voter & (sides[:, None] < 0)).any(0) & (voter & (sides[:, None] > 0)).any(0)
    lowest = np.where(voter, values, np.inf).min(0)
    highest = np.where(voter, values, -np.inf).max(0)
    return both & (highest - lowest <= VOTER_SPREAD), lowest, highest


def _corroboration(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per neighbour (rows 1..m-1 of (m, P) candidates; row 0 is the current frame): how much
    another candidate backs its value, in [NEIGHBOUR_FLOOR, 1].

    Why: a lone neighbour (misaligned by the flow, or a bad frame of the engine) must not move
    the result; a value two frames agree on is a real state of the matte. Backing from a
    candidate is its weight (current frame: 1) times how close it is, on the scale
    ``NEIGHBOUR_AGREEMENT``.
    """
    m = len(values)
    scale = np.minimum(weights, 1.0)
    scale[0] = 1.0
    backing = np.zeros((m - 1, values.shape[1]), np.float32)
    for j in range(1, m):
        for o in range(m):
            if o != j:
                near = np.exp(-(((values[j] - values[o]) / NEIGHBOUR_AGREEMENT) ** 2))
                np.maximum(backing[j - 1], scale[o] * near, out=backing[j - 1])
    return NEIGHBOUR_FLOOR + (1.0 - NEIGHBOUR_FLOOR) * backing


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


def _candidates(
    current: FrameData, others: Sequence[FrameData], pairs: Sequence[FlowPair]
) -> tuple[np.ndarray, np.ndarray]:
    """Plate pixels (ys, xs) where the candidates may disagree, found at flow resolution.

    Why: at 4K most of a matte is solid interior or clean background where every candidate
    agrees and nothing can change; only soft edges and places a neighbour disagrees need the
    full-resolution vote. A proxy pixel is a candidate when any active instance is soft there in
    the current frame or in a warped neighbour, or the two differ; the set is grown by
    ``CANDIDATE_GROW`` proxy pixels (bilinear sampling and flow at full resolution reach that far)
    and mapped to the plate pixels it covers.
    """
    ph, pw = current.proxy.shape
    h, w = current.alphas.shape[1:]
    active = current.active
    cur = current.proxy_alphas[active]
    soft = lambda a: ((a > AGREE) & (a < 1.0 - AGREE)).any(0)  # noqa: E731
    mask = soft(cur) if len(cur) else np.zeros((ph, pw), bool)
    for other, pair in zip(others, pairs, strict=True):
        both = active & other.active
        if not both.any():
            continue
        moved = _warp_proxy(other.proxy_alphas[both], pair.backward)
        mask |= soft(moved) | (np.abs(moved - current.proxy_alphas[both]) > AGREE).any(0)
    if not mask.any():
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    grow = 2 * CANDIDATE_GROW + 1
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
    # each plate pixel belongs to the proxy pixel under its centre; only the mask's box is mapped
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    y0, y1 = int(rows[0] * h // ph), min(h, -(-(int(rows[-1]) + 1) * h // ph) + 1)
    x0, x1 = int(cols[0] * w // pw), min(w, -(-(int(cols[-1]) + 1) * w // pw) + 1)
    row_of = np.minimum(((np.arange(y0, y1) + 0.5) * ph / h).astype(np.intp), ph - 1)
    col_of = np.minimum(((np.arange(x0, x1) + 0.5) * pw / w).astype(np.intp), pw - 1)
    ys, xs = np.nonzero(mask[np.ix_(row_of, col_of)])
    ys, xs = ys + y0, xs + x0
    return ys, xs


def _warp_proxy(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp flow-resolution maps (C, h, w): out(x) = image(x + flow(x))."""
    gx, gy = pixel_grid(*flow.shape[:2])
    moved = cv2.remap(
        np.ascontiguousarray(image.transpose(1, 2, 0)), gx + flow[..., 0], gy + flow[..., 1],
        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return moved.reshape(*flow.shape[:2], -1).transpose(2, 0, 1)


def _widened_box(
    image: np.ndarray, mx: np.ndarray, my: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The float32 copy of the part of ``image`` that bilinear samples at (mx, my) read, and the
    points moved into it. The box is clamped to the image, so a point outside the image still
    meets the image's own edge there (border replication is unchanged)."""
    h, w = image.shape[:2]
    if not len(mx):
        return image[:1, :1].astype(np.float32), mx, my
    x0 = int(np.clip(np.floor(mx.min()), 0, w - 1))
    x1 = int(np.clip(np.floor(mx.max()) + 2, 1, w))
    y0 = int(np.clip(np.floor(my.min()), 0, h - 1))
    y1 = int(np.clip(np.floor(my.max()) + 2, 1, h))
    box = np.ascontiguousarray(image[y0:y1, x0:x1], np.float32)
    return box, mx - np.float32(x0), my - np.float32(y0)


_ROW = 4096  # remap maps must stay below 32767 wide: long point lists are folded into rows


def _sample(image: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Bilinear samples of a contiguous (H, W[, C]) float32 map at float plate coordinates
    (border replicated): (P[, C]) float32. A float16 map (a frame held at half precision; OpenCV
    cannot remap it) is widened over the box the points reach only."""
    if image.dtype == np.float16:
        image, mx, my = _widened_box(image, mx, my)
    p = len(mx)
    rows = -(-p // _ROW)
    pad = rows * _ROW - p
    fx = np.pad(mx.astype(np.float32), (0, pad)).reshape(rows, _ROW)
    fy = np.pad(my.astype(np.float32), (0, pad)).reshape(rows, _ROW)
    out = cv2.remap(image, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * _ROW, *image.shape[2:])[:p]


def _offsets(reach: float) -> list[tuple[float, float]]:
    """The sample itself and four points ``reach`` plate pixels away (none when reach is 0)."""
    if reach <= 0:
        return [(0.0, 0.0)]
    return [(0.0, 0.0), (reach, 0.0), (-reach, 0.0), (0.0, reach), (0.0, -reach)]


def _steadiness(
    alpha: np.ndarray, mx: np.ndarray, my: np.ndarray, value: np.ndarray, reach: np.ndarray
) -> np.ndarray:
    """How far to trust a neighbour's alpha ``value`` sampled at warped points, in [0, 1].

    Why: the flow is only right to about ``reach`` plate pixels; where the neighbour's alpha
    changes steeply (an edge), a sample that far off has another value, so a warped edge is a
    blurred, shifted edge, and a vote on it biases the current frame's edge (measured on the demo
    shot: most of the error the smoother added was next to edges). Trust falls with the largest
    change of alpha within ``reach`` of the sample (on the scale ``POSITION_TOLERANCE``).
    """
    if POSITION_TOLERANCE <= 0:
        return np.ones_like(value)
    spread = np.zeros_like(value)
    for dx, dy in ((reach, 0.0), (-reach, 0.0), (0.0, reach), (0.0, -reach)):
        np.maximum(spread, np.abs(_sample(alpha, mx + dx, my + dy) - value), out=spread)
    return np.exp(-((spread / POSITION_TOLERANCE) ** 2))


def _flow_at(
    pair: FlowPair, xs: np.ndarray, ys: np.ndarray, h: int, w: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The proxy flow (in plate pixels) and its reliability at plate pixels (xs, ys), sampled
    bilinearly (as a resize of the whole map would give, without making one)."""
    fh, fw = pair.reliable.shape
    sx, sy = fw / w, fh / h
    px = (xs.astype(np.float32) + 0.5) * sx - 0.5
    py = (ys.astype(np.float32) + 0.5) * sy - 0.5
    sampled = _sample(pair.maps, px, py)
    return sampled[:, 0] / sx, sampled[:, 1] / sy, sampled[:, 2]


def _cap_sum(raw: np.ndarray, out: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> None:
    """At pixels (ys, xs) (the only ones that can change), where instances now sum above
    max(1, their raw sum), take the excess back from what each gained over its raw alpha, in
    proportion: no instance ends below its raw alpha there. Modifies ``out`` in place."""
    r, o = raw[:, ys, xs], out[:, ys, xs]
    excess = o.sum(0) - np.maximum(r.sum(0), 1.0)
    over = excess > 1e-6
    if over.any():
        gain = np.maximum(o[:, over] - r[:, over], 0.0)
        o[:, over] -= excess[over] * gain / np.maximum(gain.sum(0), 1e-12)
        out[:, ys, xs] = o


def _result(
    raw: np.ndarray, out: np.ndarray, ys: np.ndarray | None = None, xs: np.ndarray | None = None
) -> Smoothed:
    """Package ``out``; override per instance = mean |out - raw| over the union of both supports.
    ``ys, xs``: the only pixels where ``out`` may differ from ``raw`` (None: nowhere)."""
    n = len(raw)
    counts = np.array([np.count_nonzero(a > SUPPORT) for a in raw], np.float64)
    diff = np.zeros(n, np.float64)
    if ys is not None and len(ys):
        r, o = raw[:, ys, xs], out[:, ys, xs]
        counts += ((o > SUPPORT) & (r <= SUPPORT)).sum(1)
        diff = np.abs(o - r).sum(1, dtype=np.float64)
    override = (diff / np.maximum(counts, 1)).astype(np.float32)
    changed = (ys, xs) if ys is not None and len(ys) else None
    return Smoothed(
        out.astype(np.float32, copy=False), override, override > LARGE_OVERRIDE, changed
    )


class FlowCache:
    """Flow between frames of a window, keyed by consecutive integers (frame positions).

    Neighbours run DIS once per pair (both directions); a longer pair is composed along the
    chain of neighbours (:func:`vfxmatte.flow.compose`) at flow resolution, so a frame costs two
    DIS runs whatever the window. Each result is a pure function of the frames on its chain.
    """

    def __init__(self) -> None:
        self.pairs: dict[tuple[int, int], FlowPair] = {}

    def get(self, frames: Mapping[int, FrameData], a: int, b: int) -> FlowPair:
        """FlowPair from frame ``a`` to frame ``b`` (their ``backward``: a(x) ~ b(x + flow))."""
        if (a, b) not in self.pairs:
            width = frames[a].alphas.shape[2]
            if abs(a - b) == 1:
                found = flow_pairs(frames[a].proxy, frames[b].proxy, width)
            else:
                step = 1 if b > a else -1
                back = compose(self.get(frames, a, a + step).backward,
                               self.get(frames, a + step, b).backward)  # fmt: skip
                fwd = compose(self.get(frames, b, b - step).backward,
                              self.get(frames, b - step, a).backward)  # fmt: skip
                found = pairs_from_flows(back, fwd, frames[a].proxy, frames[b].proxy, width)
            self.pairs[(a, b)], self.pairs[(b, a)] = found
        return self.pairs[(a, b)]

    def forget_before(self, first: int) -> None:
        """Drop pairs involving frames before ``first`` (they left the window)."""
        self.pairs = {k: v for k, v in self.pairs.items() if min(k) >= first}


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
        storage: type[np.floating] = np.float32,
    ):
        _check(strength, window)
        self.strength = float(strength)
        self.window = int(window)
        self.flow_size = int(flow_size)
        self.storage = storage  # dtype of held plates and alphas (see frame_data)
        self.reset()

    def reset(self) -> None:
        """Forget every buffered frame (a cut, a gap, a new chunk) without emitting them."""
        self._frames: deque[tuple[int, int, FrameData]] = deque()  # (push position, index, data)
        self._flows = FlowCache()
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
        data = frame_data(frame_rgb, alphas, active, self.flow_size, self.storage)
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
        by_position = {f[0]: f[2] for f in frames}
        result = smooth_frame(
            center,
            [f[2] for f in frames],
            self.strength,
            lambda c, s: self._flows.get(by_position, positions[c], positions[s]),
        )
        self._next += 1
        while self._frames and self._frames[0][0] < self._next - self.window:
            self._frames.popleft()
        first = self._next - self.window
        self._flows.forget_before(first)
        return frames[center][1], result


def _check(strength: float, window: int) -> None:
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
    if window < 1:
        raise ValueError(f"temporal window must be at least 1 frame, got {window}")


def smooth_sequence(
    frames_rgb: Sequence[np.ndarray],
    alphas: Sequence[np.ndarray],
    strength: float = DEFAULT_STRENGTH,
    flow_size: int = DEFAULT_FLOW_SIZE,
    window: int = DEFAULT_WINDOW,
) -> list[Smoothed]:
    """Smooth a whole shot (one cut) with bidirectional windows, as a job writing it would.

    frames_rgb: per-frame (H,W,3) display-referred float; alphas: per-frame (N,H,W).
    """
    raw = [np.asarray(a, np.float32) for a in alphas]
    if strength == 0.0:
        return [_result(a, a.copy()) for a in raw]
    smoother = WindowSmoother(strength, window, flow_size)
    done = []
    for t, (rgb, a) in enumerate(zip(frames_rgb, raw, strict=True)):
        done += smoother.push(t, rgb, a)
    return [r for _, r in sorted(done + smoother.flush(), key=lambda x: x[0])]


OVERRIDE_ATTRIBUTE = "vfxmatte:smooth_override"  # EXR header: name=override per instance
LARGE_ATTRIBUTE = "vfxmatte:smooth_large"  # EXR header: names whose override is large


def format_overrides(overrides: dict[str, float]) -> str:
    """``person01=0.0123,person02=0.0004``: how far the smoother moved each layer (EXR header,
    progress line), read back by :func:`parse_overrides`."""
    return ",".join(f"{name}={value:.4f}" for name, value in overrides.items())


def parse_overrides(text: str) -> dict[str, float]:
    """Inverse of :func:`format_overrides`; tolerant of an empty or foreign value (-> {})."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        name, sep, value = part.partition("=")
        try:
            if sep:
                out[name.strip()] = float(value)
        except ValueError:
            continue
    return out


def large_overrides(overrides: dict[str, float]) -> list[str]:
    """The layers the smoother overrode by a large amount (> ``LARGE_OVERRIDE``)."""
    return [name for name, value in overrides.items() if value > LARGE_OVERRIDE]
