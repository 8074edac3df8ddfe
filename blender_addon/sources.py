# SPDX-License-Identifier: GPL-3.0-or-later
"""Map a Blender clip or image sequence to a ``####`` file pattern and file frame numbers.

Pure Python (no bpy): Blender describes an image sequence by its first file (``//frames/0000.jpg``)
plus scene offsets; the service wants a pattern and the file numbers to process.
"""

from __future__ import annotations

import os
import re

IMAGE_EXTENSIONS = {".exr", ".dpx", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".tga", ".bmp"}
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


class SourceError(ValueError):
    """The clip cannot be sent as it is (a movie file, no frame number): says what to do."""


def sequence_pattern(filepath: str) -> tuple[str, int]:
    """``/a/plate.1001.exr`` -> (``/a/plate.####.exr``, 1001): the last number in the file name."""
    folder, name = os.path.split(filepath)
    stem, ext = os.path.splitext(name)
    if ext.lower() not in IMAGE_EXTENSIONS:
        raise SourceError(
            f"{name}: only image sequences can be matted (EXR, DPX, PNG, JPEG, TIFF); "
            "export movie files to an image sequence first"
        )
    match = _LAST_NUMBER.search(stem)
    if match is None:
        return filepath, 0  # a single still: the same file for every frame
    digits = match.group(1)
    pattern = stem[: match.start()] + "#" * len(digits) + stem[match.end() :] + ext
    return os.path.join(folder, pattern), int(digits)


def file_frames(
    scene_frames: list[int], clip_start: int, clip_offset: int, first_number: int
) -> dict[int, int]:
    """Scene frame -> file number, as Blender maps an image-sequence clip (start, offset)."""
    return {f: first_number + (f - clip_start) + clip_offset for f in scene_frames}


def parse_mask_line(line: str, index: int) -> tuple[str, str]:
    """``person01=/m/p1.####.png`` (or a bare pattern, named ``personNN``) -> (name, pattern)."""
    name, sep, path = line.partition("=")
    if not sep:
        return f"person{index:02d}", line.strip()
    return name.strip(), path.strip()
