"""Where each person's rough mask comes from, frame by frame.

Two sources share one interface: per-instance mask sequences (``--mask person01=p1.####.png``) and
an integer ID/label map sequence (``--id-map ids.####.exr``, one id per person, 0 = background).
A missing file or an empty mask on some frame is an explicit per-person state that the pipeline
reports (the person's layer is then empty, or filled by keyframe propagation), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError
from vfxmatte.io.images import ImageFrame, Window, read_image
from vfxmatte.masks.names import id_layer_name, sanitize_layer_name
from vfxmatte.sequence import SequencePath


class MaskState(StrEnum):
    OK = "ok"
    EMPTY = "empty"  # the mask exists but has no foreground on this frame
    MISSING = "missing"  # no mask file for this frame (gap, or keyframes only)
    PROPAGATED = "propagated"  # no file here: carried from the nearest keyframes along flow


@dataclass
class MaskFrame:
    """The rough masks of every person for one frame, (N, H, W) float32 in [0, 1]."""

    names: list[str]
    masks: np.ndarray
    states: dict[str, MaskState] = field(default_factory=dict)


def fit_to_plate(
    mask: np.ndarray, data_window: Window, display_window: Window, what: str
) -> np.ndarray:
    """Accept a mask at the plate's data-window size, or at display size (cropped to the data window)."""
    h, w = mask.shape
    if (w, h) == data_window.size:
        return mask
    if (w, h) == display_window.size:
        x0 = data_window.x - display_window.x
        y0 = data_window.y - display_window.y
        out = np.zeros((data_window.height, data_window.width), np.float32)
        xs, ys = max(x0, 0), max(y0, 0)
        xe = min(x0 + data_window.width, w)
        ye = min(y0 + data_window.height, h)
        if xe > xs and ye > ys:
            out[ys - y0 : ye - y0, xs - x0 : xe - x0] = mask[ys:ye, xs:xe]
        return out
    raise InvalidInputError(
        f"{what} is {w}x{h} but the plate is {data_window.width}x{data_window.height}"
        f" (display {display_window.width}x{display_window.height}); render masks at plate resolution"
    )


def _mask_values(img: ImageFrame) -> np.ndarray:
    values = img.single_channel()
    if not np.isfinite(values).all():
        raise InvalidInputError(f"mask {img.path} has NaN/inf values; re-export it")
    return np.clip(values, 0.0, 1.0).astype(np.float32)


class MaskSource:
    """Interface: names known up front, masks per frame."""

    names: list[str]

    def load(self, frame: int, data_window: Window, display_window: Window) -> MaskFrame:
        raise NotImplementedError

    def frames_available(self, frames: list[int]) -> list[int]:
        """Which of ``frames`` have a mask file for at least one person."""
        raise NotImplementedError

    def has_mask(self, name: str, frame: int) -> bool:
        """Whether person ``name`` has a mask file on ``frame`` (a keyframe candidate)."""
        raise NotImplementedError


class PerInstanceMasks(MaskSource):
    """One mask sequence per person, ``{"person01": "masks/p1.####.png", ...}``."""

    def __init__(self, patterns: dict[str, str]):
        if not patterns:
            raise BadArgumentError("no masks given: use --mask NAME=PATH or --id-map PATH")
        self.names = []
        self.paths: dict[str, SequencePath] = {}
        self.notes: list[str] = []  # warnings for the job (a renamed layer)
        for raw_name, pattern in patterns.items():
            name = sanitize_layer_name(raw_name)
            if name in self.paths:
                raise BadArgumentError(
                    f"--mask {raw_name}: two masks map to layer '{name}'; give distinct names"
                )
            if name != raw_name:
                self.notes.append(
                    f"mask name '{raw_name}' is written as layer '{name}' (Nuke/Blender layer "
                    "names are letters, digits and _, not starting with a digit)"
                )
            self.names.append(name)
            self.paths[name] = SequencePath(pattern)

    def frames_available(self, frames: list[int]) -> list[int]:
        return [f for f in frames if any(p.path(f).exists() for p in self.paths.values())]

    def has_mask(self, name: str, frame: int) -> bool:
        return self.paths[name].path(frame).exists()

    def check_exists(self, frames: list[int]) -> None:
        """Refuse a mask sequence with no file at all in the job's frames (a wrong path)."""
        for name, seq in self.paths.items():
            if not any(seq.path(f).exists() for f in frames):
                raise MissingInputError(
                    f"mask '{name}' has no file for any requested frame: {seq} "
                    f"(e.g. {seq.path(frames[0])}); check the path and its padding"
                )

    def check_not_all_empty(self, frames: list[int], names: list[str] | None = None) -> None:
        """Refuse a person whose mask is empty on every requested frame (a broken export).

        Scans frames only until each person has shown some foreground, so it usually reads one
        frame. A person empty on *some* frames (walked out of shot) is a reported state instead.
        """
        pending = set(self.names if names is None else names)
        for f in frames:
            for name in list(pending):
                path = self.paths[name].path(f)
                if path.exists():
                    values = _mask_values(read_image(path, f"mask {name} frame {f}"))
                    if values.max() > 0.5:
                        pending.discard(name)
            if not pending:
                return
        for name in self.names:
            if name in pending:
                raise InvalidInputError(
                    f"mask '{name}' ({self.paths[name]}) is empty on every requested frame; "
                    "check the export (inverted, or 0-1 values in an 8-bit file?)"
                )

    def load(self, frame: int, data_window: Window, display_window: Window) -> MaskFrame:
        masks = np.zeros((len(self.names), data_window.height, data_window.width), np.float32)
        states: dict[str, MaskState] = {}
        for i, name in enumerate(self.names):
            path = self.paths[name].path(frame)
            what = f"mask {name} frame {frame}"
            if not path.exists():
                states[name] = MaskState.MISSING
                continue
            values = _mask_values(read_image(path, what))
            masks[i] = fit_to_plate(values, data_window, display_window, f"{what} ({path})")
            states[name] = MaskState.OK if masks[i].max() > 0.5 else MaskState.EMPTY
        return MaskFrame(list(self.names), masks, states)


class IdMapMasks(MaskSource):
    """An integer ID map per frame; id k becomes layer ``personKK`` (stable across chunks)."""

    def __init__(self, pattern: str, ids: list[int] | None = None):
        self.path = SequencePath(pattern)
        self.ids: list[int] = sorted(set(ids)) if ids else []
        self.names = [id_layer_name(i) for i in self.ids]

    def _ids_of(self, frame: int) -> np.ndarray:
        path = self.path.path(frame)
        img = read_image(path, f"id map frame {frame}")
        values = img.single_channel()
        if not img.is_float:  # 8/16-bit PNG: OIIO normalised to [0, 1]; undo it
            values = values * (2**img.bits_per_sample - 1)
        ids = np.rint(values)
        if not np.isfinite(values).all() or np.abs(values - ids).max() > 0.01:
            raise InvalidInputError(
                f"id map frame {frame} ({path}) holds non-integer ids; write ids as integers"
                " (EXR float or 8/16-bit PNG with exact values)"
            )
        return ids.astype(np.int64)

    def discover_ids(self, frames: list[int]) -> None:
        """Fix the id set from every frame of the job so each frame gets the same layers.

        Ids given by the user must each appear on some frame: a typo in ``--ids`` would otherwise
        write empty layers and exit 0.
        """
        if self.ids:
            self.check_ids_present(frames)
            return
        found: set[int] = set()
        for f in frames:
            if self.path.path(f).exists():
                found.update(int(v) for v in np.unique(self._ids_of(f)) if v > 0)
        if not found:
            raise InvalidInputError(
                f"id map {self.path} has no non-zero ids in the requested frames; check the file"
            )
        self.ids = sorted(found)
        self.names = [id_layer_name(i) for i in self.ids]

    def frames_available(self, frames: list[int]) -> list[int]:
        return [f for f in frames if self.path.path(f).exists()]

    def has_mask(self, name: str, frame: int) -> bool:
        return self.path.path(frame).exists()

    def check_ids_present(self, frames: list[int]) -> None:
        """Refuse requested ids found on none of ``frames`` (reads frames until all are seen)."""
        missing, seen = set(self.ids), set()
        for f in frames:
            if not missing:
                return
            if self.path.path(f).exists():
                present = {int(v) for v in np.unique(self._ids_of(f)) if v > 0}
                seen |= present
                missing -= present
        if missing:
            absent = ",".join(map(str, sorted(missing)))
            has = ",".join(map(str, sorted(seen))) or "no ids"
            raise MissingInputError(
                f"--ids {absent}: not on any id map frame of the job ({self.path} has {has}); "
                "check --ids or --frames"
            )

    def load(self, frame: int, data_window: Window, display_window: Window) -> MaskFrame:
        masks = np.zeros((len(self.ids), data_window.height, data_window.width), np.float32)
        if not self.path.path(frame).exists():
            return MaskFrame(list(self.names), masks, dict.fromkeys(self.names, MaskState.MISSING))
        ids = fit_to_plate(
            self._ids_of(frame).astype(np.float32),
            data_window,
            display_window,
            f"id map frame {frame} ({self.path.path(frame)})",
        )
        states = {}
        for i, (instance_id, name) in enumerate(zip(self.ids, self.names, strict=True)):
            masks[i] = (ids == instance_id).astype(np.float32)
            states[name] = MaskState.OK if masks[i].any() else MaskState.EMPTY
        return MaskFrame(list(self.names), masks, states)
