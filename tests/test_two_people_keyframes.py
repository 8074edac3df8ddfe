"""Keyframe propagation on the real two-person clip: masks on frame 0 only, 24 frames out.

Runs at a third of the clip's resolution (640x360 copies in tmp_path) to keep the suite short on
2 cores; distances below are in pixels at that size.
Set VFXMATTE_ARTIFACTS=<folder> to keep the contact sheet (frames 0/12/23) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli

from vfxmatte.io.images import read_image
from vfxmatte.preview import alpha_tile, contact_sheet, overlay, save_png

FRAMES = range(24)
SIZE = (640, 360)
PX = SIZE[0] / 960  # the pixel thresholds were set at 960x540


def _half_res_copy(clip: Path, dst: Path) -> None:
    (dst / "frames").mkdir(parents=True)
    (dst / "masks").mkdir()
    for f in FRAMES:
        img = cv2.imread(str(clip / "frames" / f"{f:04d}.jpg"))
        cv2.imwrite(
            str(dst / "frames" / f"{f:04d}.png"),
            cv2.resize(img, SIZE, interpolation=cv2.INTER_AREA),
        )
    for name in ("0000_person1.png", "0000_person2.png"):
        mask = cv2.imread(str(clip / "masks" / name), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(
            str(dst / "masks" / name), cv2.resize(mask, SIZE, interpolation=cv2.INTER_NEAREST)
        )


def _centroid(alpha: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(alpha > 0.5)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.integration
def test_masks_on_frame0_propagate_to_all_frames(shared_data, tmp_path):
    clip = tmp_path / "clip"
    _half_res_copy(shared_data / "two-people", clip)
    out = tmp_path / "o" / "tp.####.exr"
    proc = run_cli(
        "run",
        "--plate", clip / "frames" / "####.png",
        "--mask", f"person01={clip / 'masks' / '####_person1.png'}",
        "--mask", f"person02={clip / 'masks' / '####_person2.png'}",
        "--frames", "0-23",
        "--out", out,
        "--device", "cpu",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("person01:propagated,person02:propagated") == 23
    alphas = {}
    for f in FRAMES:
        img = read_image(tmp_path / "o" / f"tp.{f:04d}.exr")
        alphas[f] = np.stack([img.channel("person01.A"), img.channel("person02.A")])
    area0 = (alphas[0] > 0.5).sum(axis=(1, 2))
    prev = [_centroid(a) for a in alphas[0]]
    for f in FRAMES:
        a = alphas[f]
        area = (a > 0.5).sum(axis=(1, 2))
        assert ((area > 0.7 * area0) & (area < 1.4 * area0)).all(), (f, area, area0)
        c = [_centroid(x) for x in a]
        # Each layer follows its own person: she stays on the left, he on the right, and neither
        # layer jumps (a swap or a lost person would move a centroid by hundreds of pixels).
        assert c[0][0] + 150 * PX < c[1][0], (f, c)
        for i in range(2):
            assert np.linalg.norm(c[i] - prev[i]) < 15 * PX, (f, i, c[i], prev[i])
        prev = c
        solid = a > 0.9
        both = (solid[0] & solid[1]).sum()
        assert both < 0.01 * min(solid[0].sum(), solid[1].sum()), (f, both)
    rows = []
    for f in (0, 12, 23):
        rgb = cv2.cvtColor(cv2.imread(str(clip / "frames" / f"{f:04d}.png")), cv2.COLOR_BGR2RGB)
        rgb = rgb.astype(np.float32) / 255
        rows.append(
            [
                (f"frame {f}", overlay(rgb, alphas[f])),
                ("person01.A", alpha_tile(alphas[f][0])),
                ("person02.A", alpha_tile(alphas[f][1])),
            ]
        )
    sheet = save_png(tmp_path / "two_people_keyframes.png", contact_sheet(rows, tile_width=480))
    assert sheet.stat().st_size > 10_000
    if os.environ.get("VFXMATTE_ARTIFACTS"):
        keep = Path(os.environ["VFXMATTE_ARTIFACTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(sheet, keep / sheet.name)
