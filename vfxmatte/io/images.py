"""Image reading and matte writing with OpenImageIO.

Reading keeps everything a compositor cares about: the data window and the display window, the
channel names, the bit depth (so 10-bit DPX code values survive) and the metadata, which passes
through to the written mattes. Channels are always addressed by name, never by position: the EXR
writer sorts them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from vfxmatte.errors import (
    BadArgumentError,
    InvalidInputError,
    MissingInputError,
    OutOfMemoryError,
)
from vfxmatte.io.atomic import write_atomically

# Decoding guard: a header may claim any size (a 10 MB file saying 40000x40000). Nothing is decoded
# past this many pixels per image, nor past what this machine has free (float32 copy + OIIO's own).
MAX_PIXELS = 1 << 28  # 16384 x 16384
MAX_SUBIMAGES = 64  # a multipart EXR with more parts than this is not a plate
COLOUR_NAMES = ("R", "G", "B")
GREY_NAMES = ("Y", "L", "I")

EXR_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab")

# Attributes OIIO or the EXR writer manage themselves; everything else passes through.
_NOT_PASSED_THROUGH = {
    "compression",
    "oiio:subimages",
    "oiio:SourcePath",
    "oiio:SourceFileFormat",
    "oiio:RowsPerChunk",
    "oiio:BitsPerSample",
    "oiio:ColorSpace",
    "colorInteropID",
    "openexr:chunkCount",
    "openexr:lineOrder",
    "openexr:dwaCompressionLevel",
    "openexr:zipCompressionLevel",
    "channelformats",
    "tiles",
    "tile_width",
    "tile_height",
    "Orientation",
}


@dataclass(frozen=True)
class Window:
    """A pixel rectangle: origin (x, y) and size, as in an EXR data/display window."""

    x: int
    y: int
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}"


@dataclass
class ImageFrame:
    """One image as read: float32 pixels of the data window plus what is needed to write back."""

    path: Path
    pixels: np.ndarray  # (H, W, C) float32 over the data window
    channels: list[str]
    data_window: Window
    display_window: Window
    pixel_format: str  # "uint8", "uint16", "half", "float", ...
    bits_per_sample: int
    file_colorspace: str | None = None  # what the file says (oiio:ColorSpace), if anything
    metadata: list[tuple[str, str, Any]] = field(default_factory=list)  # (name, type, value)

    @property
    def is_float(self) -> bool:
        return self.pixel_format in ("half", "float", "double")

    def channel(self, name: str) -> np.ndarray:
        """One channel by name (case-sensitive), (H, W) float32."""
        try:
            return self.pixels[..., self.channels.index(name)]
        except ValueError as exc:
            raise InvalidInputError(
                f"{self.path}: no channel '{name}' (has {', '.join(self.channels)})"
            ) from exc

    def rgb(self) -> np.ndarray:
        """(H, W, 3) colour by channel name: R,G,B; a single luminance channel is replicated."""
        names = self.channels
        if all(c in names for c in ("R", "G", "B")):
            return np.stack([self.channel(c) for c in ("R", "G", "B")], axis=-1)
        for grey in ("Y", "L", "I"):
            if grey in names:
                return np.repeat(self.channel(grey)[..., None], 3, axis=-1)
        if len(names) >= 3:
            return self.pixels[..., :3]
        if len(names) == 1:
            return np.repeat(self.pixels[..., :1], 3, axis=-1)
        raise InvalidInputError(
            f"{self.path}: no colour channels (has {', '.join(names) or 'none'}); give an RGB image"
        )

    def single_channel(self) -> np.ndarray:
        """(H, W) for masks and ID maps: A if present, else the first of Y/R/first channel."""
        for name in ("A", "Y", "R"):
            if name in self.channels:
                return self.channel(name)
        return self.pixels[..., 0]


def to_display_window(values: np.ndarray, data: Window, display: Window) -> np.ndarray:
    """Place data-window pixels ((H, W) or (H, W, C)) in a zeroed display-window array."""
    shape = (display.height, display.width, *values.shape[2:])
    if data == display:
        return values
    out = np.zeros(shape, values.dtype)
    x0, y0 = data.x - display.x, data.y - display.y
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + data.width, display.width), min(y0 + data.height, display.height)
    if xe > xs and ye > ys:
        out[ys:ye, xs:xe] = values[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return out


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, read without decoding a pixel (see :func:`probe_image`)."""

    path: Path
    subimage: int  # the part whose pixels are decoded (multipart EXR: the one holding RGB)
    channels: list[str]
    width: int
    height: int
    deep: bool


def _has_colour(channels: list[str]) -> bool:
    return all(c in channels for c in COLOUR_NAMES) or any(c in channels for c in GREY_NAMES)


def _header_specs(path: Path, what: str) -> list[oiio.ImageSpec]:
    """Every part's spec from the header only (ImageInput: no pixel is read)."""
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        reason = (oiio.geterror() or "unreadable").splitlines()[0]
        raise InvalidInputError(
            f"{what} cannot be read ({path}): {reason}; re-render or replace the file"
        )
    try:
        specs = []
        while len(specs) < MAX_SUBIMAGES and inp.seek_subimage(len(specs), 0):
            specs.append(oiio.ImageSpec(inp.spec()))
        return specs
    finally:
        inp.close()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_damage(path: Path) -> str | None:
    """What is wrong with a PNG's chunk structure (lengths, CRCs, IEND), or None when sound.

    libpng prints its own line on stderr for a truncated file before OIIO reports it; walking the
    chunks first (no inflating) lets a damaged mask be refused with our one line instead.
    """
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        return "not a PNG file"
    at = len(_PNG_SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length
        if end > len(data):
            return "truncated (a chunk runs past the end of the file)"
        kind = data[at + 4 : at + 8]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[at + 4 : end - 4]) != crc:
            return f"damaged (bad CRC in its {kind.decode('latin-1')} chunk)"
        if kind == b"IEND":
            return None
        at = end
    return "truncated (no IEND chunk)"


def _decode_budget() -> int:
    """Bytes a decode may take: what the machine has available (a cgroup limit is not seen)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or /proc unreadable: trust the pixel cap alone
        return 1 << 62


def probe_image(path: str | Path, what: str = "image", colour: bool = False) -> ImageHeader:
    """Check a file from its header before any pixel is decoded, and choose the part to decode.

    Refused here, each with one line: deep EXR (OIIO's flat readers crash on it), sizes past
    :data:`MAX_PIXELS` or past free memory (exit 5), and with ``colour`` a plate whose only part
    has 2 channels (U,V: not an image) or a multipart file with no RGB part. A multipart EXR's
    RGB part is found by channel name, so a plate whose beauty is in part 2 is matted correctly.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{what} is missing: {path}")
    try:
        str(path).encode("utf-8")  # OIIO takes UTF-8 names only (a raw byte in a folder name)
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "backslashreplace").decode()
        raise InvalidInputError(
            f"{what} ({shown}): the path is not valid UTF-8; rename the file or folder"
        ) from None
    if path.suffix.lower() == ".png" and (damage := _png_damage(path)):
        raise InvalidInputError(f"{what} ({path}) is {damage}; re-export the file")
    specs = _header_specs(path, what)
    if not specs:
        raise InvalidInputError(f"{what} ({path}) has no image in it; re-render or replace it")
    index = 0
    if colour:
        with_colour = [i for i, s in enumerate(specs) if _has_colour(list(s.channelnames))]
        if with_colour:
            index = with_colour[0]
        elif len(specs) > 1:
            raise InvalidInputError(
                f"{what} ({path}) is a {len(specs)}-part EXR with no R,G,B part; "
                "write the beauty pass into it"
            )
    spec = specs[index]
    if spec.deep:
        raise InvalidInputError(
            f"{what} ({path}) is a deep image; flatten it (Nuke DeepToImage) and give that"
        )
    if colour and spec.nchannels == 2 and not _has_colour(list(spec.channelnames)):
        names = ",".join(spec.channelnames)
        raise InvalidInputError(
            f"{what} ({path}) has 2 channels ({names}), not an image; give the RGB plate"
        )
    pixels = int(spec.width) * int(spec.height)
    need = pixels * max(int(spec.nchannels), 1) * 4 * 2  # OIIO's buffer + our float32 copy
    if spec.width <= 0 or spec.height <= 0 or pixels > MAX_PIXELS or need > _decode_budget():
        raise OutOfMemoryError(
            f"{what} ({path}) claims {spec.width}x{spec.height}x{spec.nchannels}: too large to "
            f"decode here (max {MAX_PIXELS} pixels and the free memory); check the file"
        )
    return ImageHeader(
        path, index, list(spec.channelnames), int(spec.width), int(spec.height), bool(spec.deep)
    )


def read_image(path: str | Path, what: str = "image", colour: bool = False) -> ImageFrame:
    """Read any OIIO-readable file to float32, with a one-line error for missing/corrupt files.

    ``what`` names the input in error messages ("plate frame 1003", "mask person01 frame 7").
    The header is checked first (:func:`probe_image`) and only the part it chose is decoded.
    """
    header = probe_image(path, what, colour)
    path = header.path
    buf = oiio.ImageBuf(str(path), header.subimage, 0)
    ok = buf.read(subimage=header.subimage, miplevel=0, force=True)
    err = buf.geterror()
    if not ok or err:
        reason = (err or "unreadable").splitlines()[0]
        raise InvalidInputError(
            f"{what} cannot be read ({path}): {reason}; re-render or replace the file"
        )
    spec = buf.spec()
    if spec.deep:  # the header said flat; never hand a deep buffer to get_pixels
        raise InvalidInputError(f"{what} ({path}) is a deep image; flatten it first")
    pixels = buf.get_pixels(oiio.FLOAT)
    err = buf.geterror()
    if pixels is None or err:
        reason = (err or "no pixels").splitlines()[0]
        raise InvalidInputError(f"{what} cannot be decoded ({path}): {reason}")
    pixels = np.ascontiguousarray(pixels.reshape(spec.height, spec.width, spec.nchannels))
    metadata = [
        (a.name, str(a.type), a.value)
        for a in spec.extra_attribs
        if a.name not in _NOT_PASSED_THROUGH and not a.name.startswith("oiio:")
    ]
    bits = spec.get_int_attribute("oiio:BitsPerSample", 0) or _bits_of(str(spec.format))
    return ImageFrame(
        path=path,
        pixels=pixels.astype(np.float32, copy=False),
        channels=list(spec.channelnames),
        data_window=Window(spec.x, spec.y, spec.width, spec.height),
        display_window=Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height),
        pixel_format=str(spec.format),
        bits_per_sample=int(bits),
        file_colorspace=spec.get_string_attribute("oiio:ColorSpace") or None,
        metadata=metadata,
    )


def _bits_of(fmt: str) -> int:
    return {"uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "half": 16, "float": 32}.get(fmt, 32)


def check_finite(frame: ImageFrame, what: str) -> None:
    """Refuse NaN/inf pixels: they poison every filter downstream and silently wreck a matte."""
    bad = ~np.isfinite(frame.pixels)
    if bad.any():
        n = int(bad.any(axis=-1).sum())
        ys, xs = np.nonzero(bad.any(axis=-1))
        raise InvalidInputError(
            f"{what} ({frame.path}) has {n} NaN/inf pixel(s), first at x={xs[0] + frame.data_window.x}"
            f" y={ys[0] + frame.data_window.y}; fix the plate (e.g. a Nuke Expression/CopyBBox) first"
        )


def normalise_compression(name: str) -> str:
    """Validate an EXR compression name ("zip", "piz", "dwaa" or "dwaa:45")."""
    base = name.split(":")[0].lower()
    if base not in EXR_COMPRESSIONS:
        raise BadArgumentError(f"--compression {name}: choose one of {', '.join(EXR_COMPRESSIONS)}")
    return name.lower()


def write_exr(
    path: str | Path,
    channels: Mapping[str, np.ndarray],
    data_window: Window,
    display_window: Window,
    *,
    metadata: list[tuple[str, str, Any]] | None = None,
    extra_attributes: Mapping[str, str] | None = None,
    compression: str = "zip",
    pixel_type: str = "half",
    float_channels: Collection[str] = (),
) -> None:
    """Write named (H, W) channels as one EXR, atomically.

    ``float_channels`` are stored as 32-bit float whatever ``pixel_type`` is (Cryptomatte ids
    are bit patterns that half precision would destroy).

    The arrays cover ``data_window``; ``display_window`` is stored as the full window, so
    a 1000x500 region of a 4096x2160 frame stays exactly where it was.
    """
    names = list(channels)
    if not names:
        raise ValueError("write_exr needs at least one channel")
    height, width = next(iter(channels.values())).shape
    stacked = np.stack([np.asarray(channels[n], dtype=np.float32) for n in names], axis=-1)
    fmt = {"half": oiio.HALF, "float": oiio.FLOAT}[pixel_type]
    spec = oiio.ImageSpec(width, height, len(names), fmt)
    spec.channelnames = tuple(names)
    if float_channels:
        spec.channelformats = tuple(oiio.FLOAT if n in float_channels else fmt for n in names)
    if "A" in names:
        spec.alpha_channel = names.index("A")
    spec.x, spec.y = data_window.x, data_window.y
    spec.full_x, spec.full_y = display_window.x, display_window.y
    spec.full_width, spec.full_height = display_window.width, display_window.height
    for name, typ, value in metadata or []:
        try:
            spec.attribute(name, oiio.TypeDesc(typ), value)
        except (TypeError, ValueError, RuntimeError):
            continue  # an attribute OIIO cannot carry to EXR is dropped, not fatal
    for name, value in (extra_attributes or {}).items():
        spec.attribute(name, str(value))
    spec.attribute("compression", normalise_compression(compression))

    def _write(tmp: Path) -> None:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None or not out.open(str(tmp), spec):
            raise OSError(oiio.geterror() or (out.geterror() if out else "cannot open"))
        ok = out.write_image(stacked)
        err = out.geterror()
        out.close()
        if not ok:
            raise OSError(err or "write failed")

    write_atomically(Path(path), _write)


def exr_is_complete(path: str | Path, required_channels: list[str] | None = None) -> bool:
    """True when ``path`` opens, decodes fully and has the required channels (for --skip-existing)."""
    path = Path(path)
    if not path.is_file():
        return False
    buf = oiio.ImageBuf(str(path))
    ok = buf.read(force=True)
    err = buf.geterror()
    if not ok or err:
        return False
    names = set(buf.spec().channelnames)
    return all(c in names for c in (required_channels or []))
