# SPDX-License-Identifier: GPL-3.0-or-later
"""Rasterise Blender Mask splines into a binary image with numpy (bundled with Blender).

Why not the compositor: a Mask node needs a render to produce pixels; this needs only the
spline points, so it works headless and in any Blender 4.2+/5.x. The masks are rough guides for
the engine, so feather is ignored and curves are sampled as polygons.
"""

from __future__ import annotations

import numpy as np

Point = tuple[float, float]


def bezier_polygon(
    points: list[tuple[Point, Point, Point]], cyclic: bool = True, steps: int = 16
) -> np.ndarray:
    """Sample a spline of (handle_left, co, handle_right) control points into (K, 2) vertices."""
    if not points:
        return np.zeros((0, 2))
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    segments = []
    pairs = list(zip(points, points[1:], strict=False))
    if cyclic and len(points) > 1:
        pairs.append((points[-1], points[0]))
    for (_, p0, h0), (h1, p1, _) in pairs:
        p0, h0, h1, p1 = (np.asarray(v, float) for v in (p0, h0, h1, p1))
        segments.append(
            (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * h0 + 3 * (1 - t) * t**2 * h1 + t**3 * p1
        )
    if not segments:
        return np.asarray([points[0][1]], float)
    return np.concatenate(segments)


def mask_to_pixels(vertices: np.ndarray, width: int, height: int) -> np.ndarray:
    """Blender mask space -> pixel coordinates (x right, y down).

    Mask space is square over the frame's longer side and centred (0..1 across it), with y up.
    """
    v = np.array(vertices, float)
    if width > height:
        v[:, 1] = (v[:, 1] - 0.5) * (width / height) + 0.5
    elif height > width:
        v[:, 0] = (v[:, 0] - 0.5) * (height / width) + 0.5
    return np.stack([v[:, 0] * width, (1.0 - v[:, 1]) * height], axis=1)


def fill_polygons(polygons: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Even-odd fill of pixel-space polygons, sampled at pixel centres; (H, W) uint8 0/255."""
    out = np.zeros((height, width), bool)
    ys = np.arange(height) + 0.5
    xs = np.arange(width) + 0.5
    for poly in polygons:
        if len(poly) < 3:
            continue
        a = poly
        b = np.roll(poly, -1, axis=0)
        inside = np.zeros((height, width), bool)
        for (x0, y0), (x1, y1) in zip(a, b, strict=True):
            if y0 == y1:
                continue
            lo, hi = (y0, y1) if y0 < y1 else (y1, y0)
            rows = np.nonzero((ys >= lo) & (ys < hi))[0]
            if rows.size == 0:
                continue
            x_cross = x0 + (ys[rows] - y0) * (x1 - x0) / (y1 - y0)
            inside[rows] ^= xs[None, :] < x_cross[:, None]
        out |= inside  # separate splines add up
    return out.astype(np.uint8) * 255
