"""Hostile and broken input files for the hardening tests (issue 17), all tiny (32x32).

Each maker writes one file a careless user or a hostile client could hand to `vfxmatte run` or
the service: deep EXR, multipart EXR, 2-channel plate, a header claiming 40000x40000, truncated
files. They are built with OpenImageIO (and a byte patch for the forged header), never copied.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

from vfxmatte.io.images import Window, write_exr

SIZE = 32


def plate_pixels(frame: int) -> np.ndarray:
    """A grey background with a brighter square that moves one pixel per frame."""
    rgb = np.full((SIZE, SIZE, 3), 0.2, np.float32)
    x = 8 + frame % 4
    rgb[8:24, x : x + 12] = 0.8
    return rgb


def write_plate(path: Path, frame: int) -> None:
    rgb = plate_pixels(frame)
    win = Window(0, 0, SIZE, SIZE)
    write_exr(path, {c: rgb[..., i] for i, c in enumerate("RGB")}, win, win, pixel_type="float")


def write_mask(path: Path, frame: int, value: int = 255) -> None:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    x = 8 + frame % 4
    mask[8:24, x : x + 12] = value
    cv2.imwrite(str(path), mask)


def write_id_map(path: Path, ids: tuple[int, ...] = (1, 2)) -> None:
    idmap = np.zeros((SIZE, SIZE), np.uint8)
    for i, instance in enumerate(ids):
        idmap[4 + 12 * i : 14 + 12 * i, 4:28] = instance
    cv2.imwrite(str(path), idmap)


def write_deep(path: Path) -> None:
    """A deep EXR (one sample per pixel): OIIO's flat get_pixels crashes on it."""
    spec = oiio.ImageSpec(SIZE, SIZE, 4, oiio.FLOAT)
    spec.channelnames = ("R", "G", "B", "A")
    spec.deep = True
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    deep = oiio.DeepData()
    deep.init(spec)
    for pixel in range(SIZE * SIZE):
        deep.set_samples(pixel, 1)
    assert out.write_deep_image(deep)
    out.close()


def write_multipart(path: Path, rgb_part: bool, frame: int = 1001) -> None:
    """Two parts: a depth part first, then the beauty (or a second data part)."""
    first = oiio.ImageSpec(SIZE, SIZE, 1, oiio.HALF)
    first.channelnames = ("Z",)
    first.attribute("name", "depth")
    second = oiio.ImageSpec(SIZE, SIZE, 3, oiio.HALF)
    second.channelnames = ("R", "G", "B") if rgb_part else ("N.x", "N.y", "N.z")
    second.attribute("name", "beauty" if rgb_part else "normals")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), [first, second])
    out.write_image(np.full((SIZE, SIZE, 1), 5.0, np.float32))
    assert out.open(str(path), second, "AppendSubimage")
    out.write_image(plate_pixels(frame))
    out.close()


def write_two_channel(path: Path) -> None:
    spec = oiio.ImageSpec(SIZE, SIZE, 2, oiio.HALF)
    spec.channelnames = ("U", "V")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    out.write_image(np.zeros((SIZE, SIZE, 2), np.float32))
    out.close()


def write_huge_header(path: Path, side: int = 40000) -> None:
    """A 10 MB EXR whose header claims ``side`` x ``side``: nothing may trust it before decoding.

    (The one in issue 17 was 9.8 MB; OIIO 3.2 itself refuses a *tiny* file with a huge header.)
    """
    write_plate(path, 1001)
    data = bytearray(path.read_bytes())
    for name in (b"dataWindow\0box2i\0", b"displayWindow\0box2i\0"):
        at = data.index(name) + len(name) + 4  # skip the attribute size
        data[at : at + 16] = struct.pack("<4i", 0, 0, side - 1, side - 1)
    path.write_bytes(bytes(data))
    with open(path, "r+b") as fh:  # a sparse 10 MB tail: OIIO's own tiny-file heuristic passes
        fh.truncate(10 << 20)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@dataclass
class TinyShot:
    """Paths of a tiny two-frame shot (1001-1002): plate, two people's masks, an ID map."""

    folder: Path

    @property
    def plate(self) -> str:
        return str(self.folder / "plate.####.exr")

    @property
    def mask(self) -> str:
        return str(self.folder / "hero.####.png")

    @property
    def id_map(self) -> str:
        return str(self.folder / "ids.####.png")

    @property
    def clean(self) -> str:
        return str(self.folder / "clean.####.exr")


def make_tiny_shot(folder: Path, frames: tuple[int, ...] = (1001, 1002)) -> TinyShot:
    folder.mkdir(parents=True, exist_ok=True)
    for f in frames:
        write_plate(folder / f"plate.{f}.exr", f)
        write_mask(folder / f"hero.{f}.png", f)
        write_id_map(folder / f"ids.{f}.png")
        write_plate(folder / f"clean.{f}.exr", f)
    return TinyShot(folder)
