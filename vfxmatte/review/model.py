"""The review panel's data model, free of Qt so it is testable and reusable (service, scripts).

A *result folder* is one EXR sequence written by the pipeline: per-person ``<name>.A`` layers, the
union ``A`` and provenance attributes (``vfxmatte:plate`` names the plate it came from). This
module discovers the frames and people, pairs the result with its plate, turns both into
display-ready images at proxy or full resolution (cached, so scrubbing a 4K shot stays
interactive) and keeps the per-frame, per-person review (approve/flag + note) as JSON beside the
results. Problems that should not stop a review (a missing or corrupt frame) are collected as
messages; problems that leave nothing to review (no EXRs, no person layers) raise
:class:`~vfxmatte.errors.VfxMatteError` with one line the window can show.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

from vfxmatte.errors import InvalidInputError, MissingInputError, VfxMatteError
from vfxmatte.io.atomic import TEMP_MARK, write_atomically
from vfxmatte.io.colour import (
    ColourConverter,
    colorspace_of,
    encoding_colorspace,
    load_config,
    resolve_colorspace,
)
from vfxmatte.io.images import ImageFrame, Window, read_image, to_display_window
from vfxmatte.plates import open_plate
from vfxmatte.sequence import SequencePath, format_frames

REVIEW_FILE = "review.json"
PROXY_LONG_SIDE = 1280  # proxy images: long side in pixels (a 4K frame is read once, shown at 1/3)
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>-?\d+)(?P<suffix>\.exr)$", re.IGNORECASE)


# -- discovery -------------------------------------------------------------------------------
def find_exr_sequence(path: str | Path) -> SequencePath:
    """The EXR sequence a user means by ``path``: a pattern, one of its files, or a folder.

    In a folder the sequence with the most frames wins (hidden temp files of a running job are
    ignored), so ``vfxmatte review out/`` just works.
    """
    text = str(path)
    seq = SequencePath(text)
    if seq.is_sequence and not Path(text).is_dir():
        return seq
    p = Path(text)
    if p.is_file():
        m = _NUMBERED.match(p.name)
        if not m:
            raise InvalidInputError(f"{p} is not part of a numbered EXR sequence (name.####.exr)")
        pad = len(m["num"].lstrip("-"))
        return SequencePath(str(p.with_name(m["prefix"] + "#" * pad + m["suffix"])))
    if not p.is_dir():
        raise MissingInputError(f"result folder {p} does not exist; give a folder of matte EXRs")
    groups: dict[tuple[str, str, int], int] = {}
    for entry in p.iterdir():
        if entry.name.startswith(".") or TEMP_MARK in entry.name:
            continue
        m = _NUMBERED.match(entry.name)
        if m:
            key = (m["prefix"], m["suffix"], len(m["num"].lstrip("-")))
            groups[key] = groups.get(key, 0) + 1
    if not groups:
        raise MissingInputError(
            f"no numbered EXR files in {p}; point the review at a `vfxmatte run --out` folder"
        )
    prefix, suffix, pad = max(groups, key=lambda k: (groups[k], k))
    return SequencePath(str(p / f"{prefix}{'#' * pad}{suffix}"))


def _header(path: Path) -> oiio.ImageSpec | None:
    """The EXR header only (cheap even for 4K); None when the file does not open."""
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        oiio.geterror()  # clear the error so it does not leak into a later call
        return None
    spec = oiio.ImageSpec(inp.spec())
    inp.close()
    return spec


def people_in_channels(channels: list[str], instances: str = "") -> list[str]:
    """Person layer names from ``<name>.A`` channels, in the writer's order when it recorded one."""
    layers = [c[:-2] for c in channels if c.endswith(".A") and c.count(".") == 1]
    ordered = [n for n in instances.split(",") if n in layers] if instances else []
    return ordered + sorted(n for n in layers if n not in ordered)


@dataclass
class ResultFrame:
    """One result frame at full resolution, on the display window."""

    frame: int
    alphas: np.ndarray  # (N, H, W) float32, in ResultFolder.people order (missing layer = zeros)
    mask_states: dict[str, str]
    display_window: Window


def _recorded_masks(text: str) -> dict[str, str]:
    """The ``vfxmatte:masks`` attribute ({name: pattern} as JSON) or {} if absent/unreadable."""
    try:
        masks = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in masks.items()} if isinstance(masks, dict) else {}


class ResultFolder:
    """An EXR result sequence: its frames, people, plate and problems."""

    def __init__(self, path: str | Path, plate: str | None = None):
        self.sequence = find_exr_sequence(path)
        self.folder = Path(self.sequence.pattern).parent
        self.frames = self.sequence.frames_on_disk()
        if not self.frames:
            raise MissingInputError(f"no frames of {self.sequence} on disk")
        self.problems: list[str] = []
        self.unreadable: set[int] = set()
        spec = None
        for frame in self.frames:  # the first frame whose header opens describes the sequence
            spec = _header(self.sequence.path(frame))
            if spec is not None:
                break
            self.unreadable.add(frame)
        if spec is None:
            raise InvalidInputError(
                f"none of the {len(self.frames)} EXR(s) of {self.sequence} can be opened; "
                "re-render them"
            )
        channels = list(spec.channelnames)
        self.people = people_in_channels(channels, spec.get_string_attribute("vfxmatte:instances"))
        if not self.people:
            raise InvalidInputError(
                f"{self.sequence.path(frame)} has no person layers (<name>.A channels, found: "
                f"{', '.join(channels)}); is this a vfxmatte result?"
            )
        self.engine = spec.get_string_attribute("vfxmatte:engine") or "unknown"
        self.display_window = Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height)
        self.plate_pattern = plate or spec.get_string_attribute("vfxmatte:plate") or None
        self.mask_patterns = _recorded_masks(spec.get_string_attribute("vfxmatte:masks"))
        self.id_map_pattern = spec.get_string_attribute("vfxmatte:id_map") or None
        gaps = sorted(set(range(self.frames[0], self.frames[-1] + 1)) - set(self.frames))
        self.missing = gaps
        if gaps:
            self.problems.append(
                f"frame(s) {format_frames(gaps)} missing from {self.sequence}; re-run them"
            )
        for bad in sorted(self.unreadable):
            self.problems.append(f"frame {bad}: {self.sequence.path(bad).name} cannot be opened")

    @property
    def name(self) -> str:
        return self.folder.name

    def path(self, frame: int) -> Path:
        return self.sequence.path(frame)

    def read(self, frame: int) -> ResultFrame:
        """Every person's alpha at full resolution; a corrupt file raises a one-line error."""
        img = read_image(self.path(frame), f"result frame {frame}")
        n = len(self.people)
        h, w = self.display_window.height, self.display_window.width
        alphas = np.zeros((n, h, w), np.float32)
        for i, name in enumerate(self.people):
            if f"{name}.A" in img.channels:
                alphas[i] = to_display_window(
                    img.channel(f"{name}.A"), img.data_window, self.display_window
                )
        states = {}
        for key, _typ, value in img.metadata:
            if key == "vfxmatte:mask_states" and isinstance(value, str):
                for item in value.split(","):
                    person, _, state = item.partition("=")
                    if person:
                        states[person] = state
        return ResultFrame(frame, alphas, states, self.display_window)


class PlateView:
    """A plate sequence in the config's scene-linear space, plus its sRGB encoding."""

    def __init__(self, pattern: str, ocio_config: str | None = None):
        self.pattern = pattern
        self.source = open_plate(pattern)
        self.config = load_config(ocio_config)
        self.display = encoding_colorspace(self.config, "srgb")
        self.linear = resolve_colorspace(self.config, "scene_linear")
        self._to_srgb = ColourConverter(self.config, self.linear, self.display)
        self._converters: dict[str, ColourConverter] = {}

    def exists(self, frame: int) -> bool:
        return self.source.exists(frame)

    def path(self, frame: int) -> Path:
        return SequencePath(self.pattern).path(frame)

    def read(
        self, frame: int, display_window: Window, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Scene-linear pixels (the config's scene_linear role) on the display window, resized
        to ``size`` (w, h); values above 1 are kept for the exposure control.

        Resizing happens before the colour conversion: averaging scene-linear values is the
        right way to shrink an image, and converting a 1280-pixel proxy instead of a 4K frame
        makes the proxy about ten times cheaper.
        """
        img: ImageFrame = self.source.read(frame)
        src = colorspace_of(self.config, img)
        if src not in self._converters:
            self._converters[src] = ColourConverter(self.config, src, self.linear)
        rgb = to_display_window(img.rgb(), img.data_window, display_window)
        if size is not None:
            rgb = _resize(rgb, *size)
        rgb = np.nan_to_num(rgb, nan=0.0, posinf=65504.0, neginf=0.0)  # after the resize
        return self._converters[src].apply(rgb)

    def to_srgb(self, linear: np.ndarray) -> np.ndarray:
        """sRGB-encoded pixels in [0, 1] (the analysis' optical flow and the default look)."""
        return np.clip(self._to_srgb.apply(linear), 0.0, 1.0)


# -- display images and their cache ------------------------------------------------------------
@dataclass
class FrameImages:
    """What the viewer draws for one frame at one level: proxy or full resolution."""

    frame: int
    alphas: np.ndarray  # (N, h, w) float16 in [0, 1]
    plate: np.ndarray | None  # (h, w, 3) uint8 sRGB, None when there is no plate
    scale: float  # full-resolution pixels per image pixel (1.0 at full res)
    mask_states: dict[str, str] = field(default_factory=dict)
    plate_error: str | None = None
    # (h, w, 3) float16 scene-linear, for exposure and the OCIO display/view
    plate_linear: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        plates = (self.plate, self.plate_linear)
        return self.alphas.nbytes + sum(p.nbytes for p in plates if p is not None)


def proxy_size(width: int, height: int, long_side: int | None) -> tuple[int, int]:
    """Proxy (w, h) keeping the aspect ratio; full size when ``long_side`` is None or larger."""
    if not long_side or max(width, height) <= long_side:
        return width, height
    k = long_side / max(width, height)
    return max(1, round(width * k)), max(1, round(height * k))


class ProxyCache:
    """An in-memory LRU of FrameImages (bounded by bytes), optionally backed by a disk folder.

    The disk cache keys each entry by the source files' paths, sizes and mtimes, so a re-rendered
    frame is never served stale.
    """

    def __init__(self, max_bytes: int = 768 * 2**20, disk_folder: str | Path | None = None):
        self.max_bytes = max_bytes
        self.disk_folder = Path(disk_folder) if disk_folder else None
        self._items: OrderedDict[str, FrameImages] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.disk_hits = 0

    def get(self, key: str) -> FrameImages | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item
        if self.disk_folder is not None:
            item = self._disk_get(key)
            if item is not None:
                self.disk_hits += 1
                self._put_memory(key, item)
                return item
        self.misses += 1
        return None

    def put(self, key: str, item: FrameImages) -> None:
        self._put_memory(key, item)
        if self.disk_folder is not None:
            self._disk_put(key, item)

    def _put_memory(self, key: str, item: FrameImages) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = item
            self._bytes += item.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _disk_path(self, key: str) -> Path:
        assert self.disk_folder is not None
        return self.disk_folder / (hashlib.sha1(key.encode()).hexdigest() + ".npz")

    def _disk_get(self, key: str) -> FrameImages | None:
        path = self._disk_path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                plate = z["plate"] if z["plate"].size else None
                linear = z["plate_linear"] if z["plate_linear"].size else None
                return FrameImages(
                    frame=int(z["frame"]),
                    alphas=z["alphas"],
                    plate=plate,
                    scale=float(z["scale"]),
                    mask_states=json.loads(str(z["states"])),
                    plate_linear=linear,
                )
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache entry is rebuilt, not trusted

    def _disk_put(self, key: str, item: FrameImages) -> None:
        path = self._disk_path(key)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    frame=item.frame,
                    alphas=item.alphas,
                    plate=item.plate if item.plate is not None else np.zeros(0, np.uint8),
                    plate_linear=(
                        item.plate_linear
                        if item.plate_linear is not None
                        else np.zeros(0, np.float16)
                    ),
                    scale=item.scale,
                    states=json.dumps(item.mask_states),
                )

        try:
            write_atomically(path, write)
        except VfxMatteError:
            self.disk_folder = None  # an unwritable cache folder only costs speed


def _file_stamp(path: Path) -> str:
    try:
        st = path.stat()
        return f"{path}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{path}:absent"


class FrameSource:
    """Display images of one result folder (and its plate) through a shared :class:`ProxyCache`."""

    def __init__(
        self,
        result: ResultFolder,
        plate: PlateView | None,
        cache: ProxyCache,
        proxy_long_side: int = PROXY_LONG_SIDE,
    ):
        self.result = result
        self.plate = plate
        self.cache = cache
        self.proxy_long_side = proxy_long_side

    def key(self, frame: int, full: bool) -> str:
        level = "full" if full else str(self.proxy_long_side)
        plate = _file_stamp(self.plate.path(frame)) if self.plate else "-"
        return f"{_file_stamp(self.result.path(frame))}|{plate}|{level}"

    def cached(self, frame: int, full: bool = False) -> FrameImages | None:
        return self.cache.get(self.key(frame, full))

    def images(self, frame: int, full: bool = False) -> FrameImages:
        """Display images for ``frame`` (cached); raises VfxMatteError for a missing/corrupt EXR."""
        if frame not in self.result.frames:
            raise MissingInputError(f"frame {frame} is not in {self.result.sequence}")
        key = self.key(frame, full)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        res = self.result.read(frame)
        dw = self.result.display_window
        w, h = (
            (dw.width, dw.height) if full else proxy_size(dw.width, dw.height, self.proxy_long_side)
        )
        scale = dw.width / w
        alphas = np.stack([_resize(a, w, h) for a in res.alphas]).astype(np.float16)
        plate = linear = None
        plate_error = None
        if self.plate is not None:
            try:
                rgb = self.plate.read(frame, dw, (w, h))
                linear = np.clip(rgb, -65504.0, 65504.0).astype(np.float16)
                plate = (self.plate.to_srgb(rgb) * 255 + 0.5).astype(np.uint8)
            except VfxMatteError as exc:
                plate_error = exc.message
        item = FrameImages(frame, alphas, plate, scale, res.mask_states, plate_error, linear)
        self.cache.put(key, item)
        return item


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    if img.shape[1] == w and img.shape[0] == h:
        return img.astype(np.float32, copy=False)
    return cv2.resize(img.astype(np.float32, copy=False), (w, h), interpolation=cv2.INTER_AREA)


def open_plate_view(result: ResultFolder, ocio_config: str | None = None) -> PlateView | None:
    """The plate paired with a result (from ``--plate`` or the EXR metadata), if it exists."""
    if not result.plate_pattern:
        result.problems.append(
            "the results name no plate (vfxmatte:plate); pass --plate to see mattes over it"
        )
        return None
    view = PlateView(result.plate_pattern, ocio_config)
    missing = [f for f in result.frames if not view.exists(f)]
    if len(missing) == len(result.frames):
        result.problems.append(f"plate {result.plate_pattern} not found; pass --plate")
        return None
    if missing:
        result.problems.append(f"plate frame(s) {format_frames(missing)} missing")
    return view


# -- the review itself ------------------------------------------------------------------------
APPROVED, FLAGGED = "approved", "flagged"


@dataclass
class Verdict:
    status: str  # "approved" | "flagged"
    note: str = ""
    when: str = ""


class ReviewStore:
    """Per-frame, per-person verdicts, saved as JSON beside the results (atomic writes)."""

    def __init__(self, path: str | Path, result_pattern: str = ""):
        self.path = Path(path)
        self.result_pattern = result_pattern
        self.verdicts: dict[int, dict[str, Verdict]] = {}
        if self.path.is_file():
            self._load()

    @classmethod
    def beside(cls, result: ResultFolder) -> ReviewStore:
        return cls(result.folder / REVIEW_FILE, result.sequence.pattern)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            for frame, people in data.get("frames", {}).items():
                for person, v in people.items():
                    self.verdicts.setdefault(int(frame), {})[person] = Verdict(
                        str(v["status"]), str(v.get("note", "")), str(v.get("when", ""))
                    )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(
                f"review file {self.path} is not valid review JSON ({exc}); move it aside"
            ) from exc

    def set(self, frame: int, person: str, status: str, note: str = "") -> None:
        if status not in (APPROVED, FLAGGED):
            raise ValueError(f"status must be {APPROVED} or {FLAGGED}, not {status}")
        when = datetime.now(UTC).isoformat(timespec="seconds")
        self.verdicts.setdefault(frame, {})[person] = Verdict(status, note, when)

    def clear(self, frame: int, person: str) -> None:
        self.verdicts.get(frame, {}).pop(person, None)
        if not self.verdicts.get(frame, True):
            del self.verdicts[frame]

    def get(self, frame: int, person: str) -> Verdict | None:
        return self.verdicts.get(frame, {}).get(person)

    def flagged_frames(self) -> list[int]:
        return sorted(
            f
            for f, people in self.verdicts.items()
            if any(v.status == FLAGGED for v in people.values())
        )

    def as_dict(self) -> dict:
        return {
            "version": 1,
            "result": self.result_pattern,
            "frames": {
                str(f): {p: v.__dict__ for p, v in sorted(people.items())}
                for f, people in sorted(self.verdicts.items())
            },
        }

    def save(self) -> Path:
        text = json.dumps(self.as_dict(), indent=2) + "\n"
        write_atomically(self.path, lambda tmp: tmp.write_text(text))
        return self.path
