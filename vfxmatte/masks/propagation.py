"""Keyframe masks: propagate each person's mask from the frames that have one to those that don't.

A :class:`PropagatedMasks` wraps any mask source. For every person, the *keyframes* are the frames
whose mask is trusted (every frame with a mask file, or only those named by ``--keyframes``); on a
keyframe the file wins. Any other frame gets the person's nearest keyframe masks before and after
it carried along optical flow one frame at a time (forward from the previous keyframe, backward
from the next one, re-anchored at each keyframe), blended by temporal distance, in the spirit of
FTP-VM's trimap propagation. Each step re-binarises the mask so it does not blur away, and where
two people's propagated masks claim a pixel the stronger claim keeps it.

Why masks and not the engine's previous matte: a propagated mask then depends only on the plate
and the keyframes, so a farm chunk gets exactly the masks a whole-shot run gets, whatever engine
runs; the engine re-fits every propagated mask to the image anyway.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np

from vfxmatte.errors import BadArgumentError, MissingInputError
from vfxmatte.flow import dis_flow, flow_reliability, warp
from vfxmatte.io.images import Window
from vfxmatte.masks.sources import MaskFrame, MaskSource, MaskState
from vfxmatte.sequence import format_frames

_CLOSE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
GreyReader = Callable[[int], np.ndarray]  # frame -> uint8 grey plate at flow resolution


def grey_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide (OpenCV box filters): ``src`` smoothed
    except across the guide's edges, which pulls a drifting mask boundary back onto them."""
    if radius <= 0:
        return src
    i = guide.astype(np.float32) / 255.0
    k = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = mean(i), mean(src)
    a = (mean(i * src) - mean_i * mean_p) / (mean(i * i) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return mean(a) * i + mean(b)


class _Lru(OrderedDict):
    """A small least-recently-used cache (flows and grey frames are MBs each)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


def resolve_keyframes(
    source: MaskSource,
    shot_frames: list[int],
    keyframes: list[int] | None,
) -> dict[str, list[int]]:
    """Each person's keyframes in the shot; clear errors for keyframes that cannot be used.

    shot_frames: every plate frame that exists (a chunk propagates from keyframes outside it).
    keyframes: the user's ``--keyframes``; None means every frame with a mask file.
    """
    shot = sorted(set(shot_frames))
    if keyframes is not None:
        lo, hi = shot[0], shot[-1]
        outside = sorted(k for k in keyframes if not lo <= k <= hi or k not in set(shot))
        if outside:
            raise BadArgumentError(
                f"--keyframes {format_frames(outside)} outside the plate's frames "
                f"{format_frames(shot)}; give keyframes inside the shot"
            )
        without = [k for k in keyframes if not any(source.has_mask(n, k) for n in source.names)]
        if without:
            raise MissingInputError(
                f"--keyframes {format_frames(without)}: no mask file on that frame for anyone; "
                "check the mask paths or the keyframe numbers"
            )
        candidates = sorted(set(keyframes))
    else:
        candidates = shot
    by_name = {n: [f for f in candidates if source.has_mask(n, f)] for n in source.names}
    for name, frames in by_name.items():
        if not frames:
            raise MissingInputError(
                f"mask '{name}' has no file on any {'keyframe' if keyframes else 'plate frame'}"
                f" ({format_frames(candidates)}); check its path and padding"
            )
    return by_name


class PropagatedMasks(MaskSource):
    """Masks on keyframes from ``inner``; other frames propagated along flow.

    read_grey: frame -> uint8 grey plate at flow resolution (the pipeline supplies it, so colour
    handling stays in one place). shot_frames: the plate frames propagation may walk through.
    """

    def __init__(
        self,
        inner: MaskSource,
        keyframes: dict[str, list[int]],
        shot_frames: list[int],
        read_grey: GreyReader,
        cache_frames: int = 128,
        snap_radius: int = 4,
    ):
        self.inner = inner
        self.names = list(inner.names)
        self.keyframes = {n: sorted(keyframes.get(n, [])) for n in self.names}
        self.shot = sorted(set(shot_frames))
        self._index = {f: i for i, f in enumerate(self.shot)}
        self.read_grey = read_grey
        self.snap_radius = snap_radius
        self._grey = _Lru(cache_frames)
        self._flow = _Lru(2 * cache_frames)
        self._reliable = _Lru(2 * cache_frames)
        self._key_masks = _Lru(4 * max(1, len(self.names)))
        # (name, k0, k1) -> {frame: (h, w) float32 soft mask at flow resolution}
        self._segments = _Lru(max(2, 2 * len(self.names)))
        self._windows: tuple[Window, Window] | None = None

    def frames_available(self, frames: list[int]) -> list[int]:
        return list(frames)

    def has_mask(self, name: str, frame: int) -> bool:
        return frame in self.keyframes.get(name, [])

    def is_keyframe(self, name: str, frame: int) -> bool:
        return frame in self.keyframes[name]

    # -- flow plumbing ------------------------------------------------------------------
    def _grey_of(self, frame: int) -> np.ndarray:
        return self._grey.get_or(frame, lambda: self.read_grey(frame))

    def _flow_between(self, src: int, dst: int) -> np.ndarray:
        """Flow f with grey[src](x) ~ grey[dst](x + f(x)): pulls dst content onto src's grid."""
        return self._flow.get_or(
            (src, dst), lambda: dis_flow(self._grey_of(src), self._grey_of(dst))
        )

    def _key_mask(self, name: str, frame: int) -> np.ndarray:
        """The person's keyframe mask, binarised, at flow resolution."""

        def load() -> np.ndarray:
            assert self._windows is not None
            full = self.inner.load(frame, *self._windows)
            mask = full.masks[self.names.index(name)]
            h, w = self._grey_of(frame).shape
            small = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
            return (small > 0.5).astype(np.float32)

        return self._key_masks.get_or((name, frame), load)

    def _chain(
        self, name: str, start: int, towards: int | None, step: int
    ) -> dict[int, np.ndarray]:
        """Carry the keyframe mask at ``start`` one frame at a time (``step`` +1 or -1) up to,
        not including, keyframe ``towards`` (or through the end of the shot when None)."""
        i = self._index[start]
        if towards is None:
            j = len(self.shot) if step > 0 else -1
        else:
            j = self._index[towards]
        mask = self._key_mask(name, start)
        out = {}
        for k in range(i + step, j, step):
            prev, cur = self.shot[k - step], self.shot[k]
            mask = self._step(mask, prev, cur)
            out[cur] = mask
        return out

    def _step(self, mask: np.ndarray, prev: int, cur: int) -> np.ndarray:
        """Carry a binary mask from ``prev`` to ``cur``: warp, then re-fit its edge.

        Only the band around the warped edge is re-decided; the body's interior and the far
        background are kept as warped, so shirt folds or motion blur never punch holes. In the
        band, pixels whose flow is unreliable do not inherit the mask (they are being revealed:
        background uncovered behind a moving person, a car sliding out from behind them), and a
        guided filter by the current plate pulls the edge back onto the image's edges, so
        flow blurred across a motion boundary does not make the mask creep frame after frame.
        """
        back = self._flow_between(cur, prev)
        reliable = self._reliable.get_or(
            (cur, prev),
            lambda: flow_reliability(
                back, self._flow_between(prev, cur), self._grey_of(prev), self._grey_of(cur)
            ),
        )
        moved = warp(mask, back)
        inside = (moved > 0.5).astype(np.uint8)
        if not inside.any():
            return inside.astype(np.float32)
        band_kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (4 * self.snap_radius + 1, 4 * self.snap_radius + 1)
        )
        core = cv2.erode(inside, band_kernel)
        reach = cv2.dilate(inside, band_kernel)
        carried = moved * (reliable > 0.5)
        snapped = grey_guided_filter(self._grey_of(cur), carried, self.snap_radius, 1e-3) > 0.5
        out = np.where(core > 0, 1, np.where(reach > 0, snapped, 0)).astype(np.uint8)
        return cv2.morphologyEx(out, cv2.MORPH_CLOSE, _CLOSE_KERNEL).astype(np.float32)

    def _segment(self, name: str, frame: int) -> np.ndarray:
        """Soft propagated mask of ``name`` at ``frame`` (flow resolution), segment cached."""
        keys = self.keyframes[name]
        pos = bisect.bisect_left(keys, frame)
        before = keys[pos - 1] if pos > 0 else None
        after = keys[pos] if pos < len(keys) else None

        def build() -> dict[int, np.ndarray]:
            # Read the segment's plates in frame order first: a movie decodes forwards only,
            # so the backward chain would otherwise restart the decoder at every step.
            lo = self._index[before] if before is not None else 0
            hi = self._index[after] if after is not None else len(self.shot) - 1
            for f in self.shot[lo : min(hi + 1, lo + self._grey.size)]:
                self._grey_of(f)
            fwd = self._chain(name, before, after, +1) if before is not None else {}
            bwd = self._chain(name, after, before, -1) if after is not None else {}
            soft = {}
            for f in set(fwd) | set(bwd):
                if f in fwd and f in bwd:
                    d0, d1 = f - before, after - f  # type: ignore[operator]
                    soft[f] = (d1 * fwd[f] + d0 * bwd[f]) / float(d0 + d1)
                else:
                    soft[f] = fwd[f] if f in fwd else bwd[f]
            return soft

        return self._segments.get_or((name, before, after), build)[frame]

    # -- MaskSource -----------------------------------------------------------------------
    def load(self, frame: int, data_window: Window, display_window: Window) -> MaskFrame:
        self._windows = (data_window, display_window)
        keyed = [n for n in self.names if self.is_keyframe(n, frame)]
        base = self.inner.load(frame, data_window, display_window) if keyed else None
        masks = np.zeros((len(self.names), data_window.height, data_window.width), np.float32)
        states: dict[str, MaskState] = {}
        soft: dict[int, np.ndarray] = {}
        for i, name in enumerate(self.names):
            if base is not None and name in keyed:
                masks[i] = base.masks[i]
                states[name] = base.states[name]
            elif frame in self._index:
                soft[i] = self._segment(name, frame)
                states[name] = MaskState.PROPAGATED
            else:
                states[name] = MaskState.MISSING
        if soft:
            self._place_propagated(masks, soft, data_window)
            for i in soft:
                if masks[i].max() <= 0.5:
                    states[self.names[i]] = MaskState.EMPTY
        return MaskFrame(list(self.names), masks, states)

    @staticmethod
    def _place_propagated(masks: np.ndarray, soft: dict[int, np.ndarray], window: Window) -> None:
        """Upscale propagated masks; a pixel claimed by several people goes to the strongest."""
        full = {
            i: cv2.resize(s, (window.width, window.height), interpolation=cv2.INTER_LINEAR)
            for i, s in soft.items()
        }
        claims = np.stack([full.get(i, masks[i]) for i in range(masks.shape[0])])
        winner = claims.argmax(0)
        for i, values in full.items():
            masks[i] = ((values > 0.5) & (winner == i)).astype(np.float32)
