"""Optical flow between consecutive plates (OpenCV DIS), its reliability, and warping.

Flow is computed on a downscaled grey plate (a 4K plate costs what a ~960 px one does): temporal
smoothing and mask propagation only need motion at the scale of a matte's soft edge, and DIS on a
small image is both fast and less noisy. Reliability comes from the forward-backward check (a
pixel whose forward flow is not undone by the backward flow is occluded or mis-tracked) and from
the photometric error of the warped previous frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

DEFAULT_FLOW_SIZE = 960  # long side of the image the flow is computed on


def to_grey(rgb: np.ndarray, size: int = DEFAULT_FLOW_SIZE) -> np.ndarray:
    """(H, W, 3) display-referred float RGB -> uint8 grey with long side at most ``size``.

    Downscaled first (area average), then clipped and made grey: a 4K plate costs what its proxy
    does. Values above 1 (highlights) are clipped: flow only needs structure, not energy.
    """
    rgb = np.asarray(rgb, np.float32)
    h, w = rgb.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    grey = cv2.cvtColor(np.clip(rgb, 0.0, 1.0), cv2.COLOR_RGB2GRAY)
    return (grey * 255.0 + 0.5).astype(np.uint8)


def dis_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) such that ``src(x) ~ dst(x + flow(x))`` (DIS, medium preset).

    A new DIS instance per call keeps the result independent of what was computed before (so a
    farm chunk and a whole-shot run get identical flow for the same pair of frames).
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(src, dst, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` (H, W[, C]) with ``flow`` (H, W, 2): out(x) = image(x + flow(x)).

    Pixels sampled outside the image take the nearest border value.
    """
    grid_x, grid_y = pixel_grid(*flow.shape[:2])
    map_x = grid_x + flow[..., 0]
    map_y = grid_y + flow[..., 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=4)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 pixel coordinates of an (h, w) image (read-only, shared: flow-sized maps
    are warped many times per frame)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def resize_map(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample a per-pixel map (H, W) to (height, width) bilinearly."""
    if values.shape[1] == width and values.shape[0] == height:
        return values
    return cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass
class FlowPair:
    """Motion from the current frame back to the previous one, at flow resolution.

    backward: (h, w, 2) flow from current to previous: prev(x + backward(x)) ~ current(x).
    reliable: (h, w) float32 in [0, 1]: 1 where forward-backward agree and colours match.
    speed: (h, w) float32: motion in pixels of the *plate* per frame.
    """

    backward: np.ndarray
    reliable: np.ndarray
    speed: np.ndarray
    scale: float  # plate pixels per flow pixel
    # (h, w, 3) float32: backward x, y and reliable, for sampling all three in one remap
    maps: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.maps = np.dstack([self.backward, self.reliable]).astype(np.float32)


def flow_to_previous(
    prev_grey: np.ndarray,
    cur_grey: np.ndarray,
    plate_width: int,
    fb_tolerance: float = 1.0,
    colour_tolerance: float = 25.0,
) -> FlowPair:
    """Flow from the current frame to the previous one with its reliability.

    fb_tolerance: forward-backward disagreement (flow pixels) at which reliability falls to ~0.37;
    it grows with the motion, as in Sundaram et al.'s check. colour_tolerance: grey-level error
    (0-255) of the warped previous frame at which reliability falls the same way.
    """
    back = dis_flow(cur_grey, prev_grey)  # cur(x) ~ prev(x + back(x))
    fwd = dis_flow(prev_grey, cur_grey)  # prev(y) ~ cur(y + fwd(y))
    return _flow_pair(back, fwd, prev_grey, cur_grey, plate_width, fb_tolerance, colour_tolerance)


def flow_pairs(
    cur_grey: np.ndarray,
    other_grey: np.ndarray,
    plate_width: int,
    fb_tolerance: float = 1.0,
    colour_tolerance: float = 25.0,
) -> tuple[FlowPair, FlowPair]:
    """Both directions from one pair of DIS runs: (current -> other, other -> current).

    The first equals ``flow_to_previous(other_grey, cur_grey, ...)``; the second is what the other
    frame gets when the current one is its neighbour (a window smoother needs both).
    """
    back = dis_flow(cur_grey, other_grey)  # cur(x) ~ other(x + back(x))
    fwd = dis_flow(other_grey, cur_grey)  # other(y) ~ cur(y + fwd(y))
    return pairs_from_flows(
        back, fwd, cur_grey, other_grey, plate_width, fb_tolerance, colour_tolerance
    )


def compose(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Chain two backward flows: ``first`` a -> b and ``second`` b -> c give a -> c,
    ``first(x) + second(x + first(x))`` (so a window's longer pairs cost no DIS run)."""
    return first + warp(second, first)


def pairs_from_flows(
    back: np.ndarray,
    fwd: np.ndarray,
    cur_grey: np.ndarray,
    other_grey: np.ndarray,
    plate_width: int,
    fb_tolerance: float = 1.0,
    colour_tolerance: float = 25.0,
) -> tuple[FlowPair, FlowPair]:
    """As :func:`flow_pairs` from given flows: ``back`` current -> other, ``fwd`` other ->
    current (e.g. composed along a chain of frames)."""
    tolerances = (fb_tolerance, colour_tolerance)
    return (
        _flow_pair(back, fwd, other_grey, cur_grey, plate_width, *tolerances),
        _flow_pair(fwd, back, cur_grey, other_grey, plate_width, *tolerances),
    )


def _flow_pair(
    back: np.ndarray,
    fwd: np.ndarray,
    prev_grey: np.ndarray,
    cur_grey: np.ndarray,
    plate_width: int,
    fb_tolerance: float,
    colour_tolerance: float,
) -> FlowPair:
    """``back`` (current -> previous) with its reliability and speed in plate pixels."""
    reliable = flow_reliability(
        back, fwd, prev_grey, cur_grey, fb_tolerance=fb_tolerance, colour_tolerance=colour_tolerance
    )
    scale = plate_width / cur_grey.shape[1]
    speed = np.hypot(back[..., 0], back[..., 1]) * scale
    return FlowPair(back, reliable, speed.astype(np.float32), scale)


def flow_reliability(
    back: np.ndarray,
    fwd: np.ndarray,
    prev_grey: np.ndarray,
    cur_grey: np.ndarray,
    fb_tolerance: float = 1.0,
    colour_tolerance: float = 25.0,
) -> np.ndarray:
    """(h, w) float32 in [0, 1]: how far to trust ``back`` (current -> previous) at each pixel.

    back: current -> previous flow; fwd: previous -> current flow. A pixel is reliable when the
    round trip returns where it started (tolerance growing with motion) and the warped previous
    frame has its colour; occluded and disoccluded pixels fail one or the other.
    """
    fwd_at = warp(fwd, back)  # forward flow sampled where each current pixel came from
    bx, by, fx, fy = back[..., 0], back[..., 1], fwd_at[..., 0], fwd_at[..., 1]
    err2 = (bx + fx) ** 2 + (by + fy) ** 2  # (not .sum(-1): numpy reduces a 2-wide axis slowly)
    mag2 = bx * bx + by * by + fx * fx + fy * fy
    fb_ok = np.exp(-err2 / (fb_tolerance**2 * (1.0 + 0.05 * mag2)))
    warped_prev = warp(prev_grey.astype(np.float32), back)
    colour_err = np.abs(warped_prev - cur_grey.astype(np.float32))
    colour_ok = np.exp(-((colour_err / colour_tolerance) ** 2))
    return (fb_ok * colour_ok).astype(np.float32)
