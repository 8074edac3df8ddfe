"""Files of a synth set: 8-bit sRGB images, 8-bit alphas and 0/255 masks, as the dev-sets.

Encoders get fixed parameters (PNG compression level, JPEG quality, no optimisation passes) so the
same pixels always give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vfxmatte.errors import OutputError

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]
JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_OPTIMIZE, 0]


def to_8bit(values: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8)


def _write(path: Path, pixels: np.ndarray, params: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), pixels, params):
        raise OutputError(f"cannot write {path}; check the output folder")


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    params = JPEG_PARAMS if path.suffix.lower() in (".jpg", ".jpeg") else PNG_PARAMS
    _write(path, cv2.cvtColor(to_8bit(rgb), cv2.COLOR_RGB2BGR), params)


def write_alpha(path: Path, alpha: np.ndarray) -> None:
    _write(path, to_8bit(alpha), PNG_PARAMS)


def write_mask(path: Path, mask: np.ndarray) -> None:
    _write(path, (mask > 0).astype(np.uint8) * 255, PNG_PARAMS)
