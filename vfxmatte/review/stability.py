"""Per-frame stability of each person's alpha, so flicker and dropped mattes stand out.

For each frame t and person p the *change* is the share of the matte that differs from frame t-1:
``sum |a_t - warp(a_{t-1})| / (sum a_t + sum warp(a_{t-1}))`` (0 same, 1 disjoint). Where the plate is available,
frame t-1's alpha is first moved along OpenCV DIS optical flow (t -> t-1), so a person walking
across frame scores near zero and only real edge boiling or holes remain; without a plate the raw
difference is used (and the report says so). Frames are flagged when a person's matte is empty,
when their mask was missing/empty at render time, when the change is far above that person's
typical change (a spike), when the matte's area jumps, or when the temporal smoother overrode the
engine by a large amount there (``vfxmatte:smooth_override`` in the frame's header, written by
the pipeline: a compositor should see what the engine gave and what the smoother kept). Works on proxy images: flicker is visible
at 1280 pixels wide and a 4K shot analyses in seconds per frame, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from vfxmatte.errors import MissingInputError, VfxMatteError
from vfxmatte.refine.temporal import OVERRIDE_ATTRIBUTE, large_overrides, parse_overrides
from vfxmatte.review.model import FrameImages, FrameSource

EMPTY_AREA = 1e-4  # a matte covering less than this share of the frame counts as empty
SPIKE_FACTOR = 3.0  # change above this many times the person's median change is suspicious
SPIKE_FLOOR = 0.05  # ... and above this absolute share (5% of the matte changed)
AREA_JUMP = 1.5  # area growing or shrinking by this factor between frames is suspicious


EXPECTED_STATES = ("propagated",)  # MaskState values that are a choice, not a problem


@dataclass
class StabilityReport:
    """Changes and flags per person; ``changes[p][i]`` belongs to ``frames[i]`` (None: no previous)."""

    frames: list[int]
    people: list[str]
    changes: dict[str, list[float | None]] = field(default_factory=dict)
    areas: dict[str, list[float | None]] = field(default_factory=dict)
    # mean |smoothed - raw| over the person's support, from the header (None: not recorded)
    overrides: dict[str, list[float | None]] = field(default_factory=dict)
    flags: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    # frame -> person -> a mask state that is by design, not a fault (e.g. "propagated": the
    # mask was carried from keyframes on purpose); shown as a state, never flagged
    states: dict[int, dict[str, str]] = field(default_factory=dict)
    flow_compensated: bool = False

    def flag(self, frame: int, person: str, reason: str) -> None:
        reasons = self.flags.setdefault(frame, {}).setdefault(person, [])
        if reason not in reasons:
            reasons.append(reason)

    def flagged_frames(self) -> list[int]:
        return sorted(self.flags)


def grey(plate_u8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(plate_u8, cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """DIS optical flow (fast preset): dense, CPU-only, no weights, ~10 ms at proxy size."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def backward(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from ``cur`` to ``prev``: where each pixel of cur was in prev."""
        return self._dis.calc(cur, prev, None)


def warp_with_flow(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` (previous frame) at x + flow so it lines up with the current frame."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        image.astype(np.float32),
        xs + flow[..., 0],
        ys + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def smooth_overrides(path: str) -> dict[str, float]:
    """Per person, how far the temporal smoother moved the engine's alpha on this frame (the
    header's ``vfxmatte:smooth_override``; {} for results written without it)."""
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    if inp is None:
        oiio.geterror()  # a frame not written yet: no override to show, nothing to report
        return {}
    try:
        return parse_overrides(str(inp.spec().getattribute(OVERRIDE_ATTRIBUTE) or ""))
    finally:
        inp.close()


def alpha_change(cur: np.ndarray, prev_aligned: np.ndarray) -> float:
    """Share of the matte that changed: 0 for identical mattes, 1 for disjoint ones."""
    cur = cur.astype(np.float32)
    prev_aligned = prev_aligned.astype(np.float32)
    denom = float(cur.sum()) + float(prev_aligned.sum())
    if denom <= 1e-6:
        return 0.0
    return float(np.abs(cur - prev_aligned).sum() / denom)


def analyse(
    source: FrameSource,
    frames: list[int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> StabilityReport:
    """Stability of every person over ``frames`` (default: first to last on disk), at proxy size."""
    result = source.result
    frames = list(frames or range(result.frames[0], result.frames[-1] + 1))  # gaps show too
    people = result.people
    report = StabilityReport(frames, people)
    report.changes = {p: [None] * len(frames) for p in people}
    report.areas = {p: [None] * len(frames) for p in people}
    report.overrides = {p: [None] * len(frames) for p in people}
    flow_est = FlowEstimator()
    prev: FrameImages | None = None
    prev_frame: int | None = None
    used_flow = False
    for i, frame in enumerate(frames):
        if should_stop():
            break
        try:
            cur = source.images(frame)
        except VfxMatteError as exc:
            reason = "missing" if isinstance(exc, MissingInputError) else "unreadable"
            for p in people:
                report.flag(frame, p, reason)
            prev = None
            if on_progress:
                on_progress(i + 1, len(frames))
            continue
        npix = float(cur.alphas.shape[1] * cur.alphas.shape[2])
        overrides = smooth_overrides(str(result.path(frame)))
        for p in large_overrides(overrides):
            report.flag(frame, p, f"smoother override {overrides[p]:.0%}")
        for p, value in overrides.items():
            if p in report.overrides:
                report.overrides[p][i] = value
        flow = None
        if prev is not None and prev_frame == frame - 1:
            if cur.plate is not None and prev.plate is not None:
                flow = flow_est.backward(grey(cur.plate), grey(prev.plate))
                used_flow = True
        for j, p in enumerate(people):
            a = cur.alphas[j].astype(np.float32)
            area = float(a.sum()) / npix
            report.areas[p][i] = area
            state = cur.mask_states.get(p, "ok")
            if state in EXPECTED_STATES:
                report.states.setdefault(frame, {})[p] = state
            elif state not in ("ok", ""):
                report.flag(frame, p, f"mask {state}")
            if area < EMPTY_AREA:
                report.flag(frame, p, "empty matte")
            if prev is None or prev_frame != frame - 1:
                continue
            b = prev.alphas[j].astype(np.float32)
            aligned = warp_with_flow(b, flow) if flow is not None else b
            report.changes[p][i] = alpha_change(a, aligned)
            prev_area = report.areas[p][i - 1] if i > 0 else None
            if prev_area and area >= EMPTY_AREA and prev_area >= EMPTY_AREA:
                ratio = area / prev_area
                if ratio > AREA_JUMP or ratio < 1 / AREA_JUMP:
                    report.flag(frame, p, f"area x{ratio:.2f}")
        prev, prev_frame = cur, frame
        if on_progress:
            on_progress(i + 1, len(frames))
    report.flow_compensated = used_flow
    _flag_spikes(report)
    return report


def _flag_spikes(report: StabilityReport) -> None:
    """A change far above the person's own median is flicker (or a pop) worth a look."""
    for p, values in report.changes.items():
        known = [v for v in values if v is not None]
        if len(known) < 2:
            typical = 0.0
        else:
            typical = float(np.median(known))
        limit = max(SPIKE_FLOOR, SPIKE_FACTOR * typical)
        for frame, v in zip(report.frames, values, strict=True):
            if v is not None and v > limit:
                report.flag(frame, p, f"change {v:.0%}")
