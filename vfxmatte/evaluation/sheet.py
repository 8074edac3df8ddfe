"""The evaluation's contact sheet: one PNG a person can look at to believe (or not) the numbers.

One row per picked sample (evenly spread over the dataset): plate, rough masks, ground truth, the
first method's predicted layers (each person tinted), then one error map per method,
|prediction - truth| summed over instances (inferno: black = right, yellow = off by 1). Only
small thumbnails are kept while the evaluation runs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vfxmatte import metrics
from vfxmatte.evaluation import SHEET_ROWS
from vfxmatte.evaluation.dataset import LoadedSample
from vfxmatte.preview import contact_sheet, overlay, save_png

TILE_WIDTH = 320


def _thumb(img: np.ndarray, width: int = TILE_WIDTH) -> np.ndarray:
    h, w = img.shape[:2]
    size = (width, max(1, int(round(h * width / w))))
    return cv2.resize(img.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def error_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1]: total absolute error over instances, inferno colour map."""
    err = np.clip(np.abs(pred - truth).sum(0), 0, 1)
    bgr = cv2.applyColorMap(np.rint(err * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def evenly_spread(items: list, count: int) -> list:
    """``count`` of ``items`` (at most all), first and last included, evenly spread."""
    count = min(count, len(items))
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


class SheetCollector:
    """Keeps thumbnails of the picked samples while eval runs; ``save`` writes the PNG."""

    def __init__(self, keys: list[str], methods: list[str], rows: int = SHEET_ROWS):
        self.wanted = set(evenly_spread(keys, rows))
        self.methods = methods
        self.rows: dict[str, list[tuple[str, np.ndarray]]] = {}
        self._pending: dict[str, list[tuple[str, np.ndarray]]] = {}

    def add_prediction(self, loaded: LoadedSample, method: str, pred: np.ndarray) -> None:
        key = loaded.sample.key
        if key not in self.wanted:
            return
        tiles = self._pending.setdefault(key, [])
        if method == self.methods[0]:
            tiles.append((f"{method} layers", _thumb(overlay(loaded.image, pred, 0.7))))
        mad = np.mean([metrics.mad(pred[i], loaded.truths[i]) for i in range(len(pred))])
        tiles.append((f"{method} error (MAD {mad:.1f})", _thumb(error_map(pred, loaded.truths))))

    def add_sample(self, loaded: LoadedSample) -> None:
        key = loaded.sample.key
        if key not in self.wanted:
            return
        first = [
            (key, _thumb(loaded.image)),
            ("rough masks", _thumb(overlay(loaded.image, loaded.masks, 0.7))),
            ("truth", _thumb(overlay(loaded.image, loaded.truths, 0.7))),
        ]
        self.rows[key] = first + self._pending.pop(key, [])

    def save(self, path: Path) -> Path | None:
        if not self.rows:
            return None
        return save_png(path, contact_sheet(list(self.rows.values()), tile_width=TILE_WIDTH))


GREEN = np.array([0.0, 1.0, 0.0], np.float32)


def over_green(display_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The plate over pure green through ``alpha``: how a compositor checks a layer (grey
    patches, holes and hard edges show at once; a tint overlay hides them)."""
    a = np.clip(alpha, 0, 1)[..., None].astype(np.float32)
    return display_rgb * a + GREEN * (1 - a)


def crop_box(alphas: list[np.ndarray], side: int) -> tuple[int, int]:
    """Top-left (y, x) of a ``side`` px square at the top of the alphas' union (a head: soft
    edges and window patches are there), kept in frame."""
    union = np.max(np.stack(alphas), 0) > 0.5
    h, w = union.shape
    rows, cols = np.nonzero(union)
    if not len(rows):
        return 0, 0
    top = int(rows.min())
    cx = int(np.median(cols[rows < top + max(1, side // 2)]))
    y = min(max(0, top - side // 8), max(0, h - side))
    x = min(max(0, cx - side // 2), max(0, w - side))
    return y, x


def layer_row(
    label: str,
    rgb: np.ndarray,
    runs: dict[str, dict[str, np.ndarray]],
    crop: int = TILE_WIDTH,
) -> list[tuple[str, np.ndarray]]:
    """One sheet row, already thumbnailed (so a caller can keep rows of many 4K frames): the
    plate, then for each run each person over green, the whole frame and a ``crop`` px square
    at the head shown 1:1. ``runs``: {run: {person: alpha}}; a run named "" adds no prefix."""
    row: list[tuple[str, np.ndarray]] = [(label, _thumb(rgb, crop))]
    for run, layers in runs.items():
        for person, alpha in layers.items():
            y, x = crop_box([alpha], crop)
            green = over_green(rgb, alpha)
            name = f"{run} {person}".strip()
            row.append((name, _thumb(green, crop)))
            row.append((f"{name} 1:1", green[y : y + crop, x : x + crop]))
    return row


def layer_sheet(
    frames: list[tuple[str, np.ndarray, dict[str, dict[str, np.ndarray]]]],
    crop: int = TILE_WIDTH,
) -> np.ndarray:
    """Contact sheet (uint8 RGB) of :func:`layer_row` rows, one per frame. ``frames``:
    (label, display RGB, {run: {person: alpha}})."""
    return contact_sheet([layer_row(*f, crop=crop) for f in frames], tile_width=crop)
