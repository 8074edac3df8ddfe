"""Pictures for people: plate with coloured per-person overlays, alphas, contact sheets (PNG)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Distinct overlay colours (RGB), cycled for more than eight people.
PALETTE = np.array(
    [
        [1.0, 0.25, 0.2],
        [0.2, 0.55, 1.0],
        [0.3, 0.9, 0.3],
        [1.0, 0.85, 0.2],
        [0.85, 0.3, 1.0],
        [0.2, 0.95, 0.95],
        [1.0, 0.55, 0.1],
        [0.6, 0.6, 0.6],
    ],
    np.float32,
)


def to_display(rgb: np.ndarray) -> np.ndarray:
    """Display-ready float RGB in [0, 1] (input already display-encoded, e.g. sRGB)."""
    return np.clip(np.nan_to_num(rgb), 0.0, 1.0).astype(np.float32)


def overlay(display_rgb: np.ndarray, alphas: np.ndarray, strength: float = 0.55) -> np.ndarray:
    """Tint each person's alpha with their palette colour over the plate."""
    out = display_rgb.copy()
    for i, a in enumerate(alphas):
        colour = PALETTE[i % len(PALETTE)]
        w = (strength * a)[..., None]
        out = out * (1 - w) + colour * w
    return out


def alpha_tile(alpha: np.ndarray) -> np.ndarray:
    """A single alpha as a grey RGB image."""
    return np.repeat(np.clip(alpha, 0, 1)[..., None], 3, axis=-1).astype(np.float32)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    img = (np.clip(tile, 0, 1) * 255).astype(np.uint8).copy()
    scale = max(0.4, img.shape[1] / 700)
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # dark outline, then fill
        cv2.putText(
            img,
            text,
            (8, int(24 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.6,
            colour,
            thickness,
            cv2.LINE_AA,
        )
    return img


def contact_sheet(rows: list[list[tuple[str, np.ndarray]]], tile_width: int = 480) -> np.ndarray:
    """Grid of labelled tiles (each (H, W, 3) float in [0, 1]) as uint8 RGB."""
    built = []
    ncols = max(len(r) for r in rows)
    for row in rows:
        tiles = []
        for label, img in row:
            h, w = img.shape[:2]
            th = max(1, int(round(h * tile_width / w)))
            tiles.append(
                _label(cv2.resize(img, (tile_width, th), interpolation=cv2.INTER_AREA), label)
            )
        th = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, th - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
        while len(tiles) < ncols:
            tiles.append(np.zeros_like(tiles[0]))
        built.append(np.concatenate(tiles, axis=1))
    return np.concatenate(built, axis=0)


def save_png(path: str | Path, rgb_uint8: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb_uint8, cv2.COLOR_RGB2BGR))
    return path


def review_frame(
    display_rgb: np.ndarray,
    alphas: np.ndarray,
    names: list[str],
    label: str = "",
    tile_width: int = 960,
    columns: int = 3,
) -> np.ndarray:
    """One review-movie frame: the plate with coloured overlays, then each person's alpha.

    Returns (H, W, 4) float RGBA in [0, 1], opaque, with even dimensions (video codecs want them).
    Tiles are laid out ``columns`` to a row, labelled with the frame and each layer name.
    """
    tiles = [(f"{label} overlay".strip(), overlay(to_display(display_rgb), alphas))]
    tiles += [(f"{name}.A", alpha_tile(a)) for name, a in zip(names, alphas, strict=True)]
    w = min(tile_width, display_rgb.shape[1])
    w -= w % 2
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    sheet = contact_sheet(rows, tile_width=w).astype(np.float32) / 255.0
    h2, w2 = sheet.shape[0] - sheet.shape[0] % 2, sheet.shape[1] - sheet.shape[1] % 2
    rgba = np.ones((h2, w2, 4), np.float32)
    rgba[..., :3] = sheet[:h2, :w2]
    return rgba
