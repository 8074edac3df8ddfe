"""Contact sheet of the two-person clip (../shared/data/two-people) through rvm, beside guided.

Only frame 0 has masks (masks/0000_person1.png, 0000_person2.png). Each engine mattes the whole
clip through ``vfxmatte run`` as a user would: the pipeline propagates frame 0's masks to the
others and smooths over time (defaults). (An earlier version fed each engine's own thresholded,
dilated alphas back as the next masks; that loop let the guided engine's matte creep outwards a
few pixels a frame, which no user path does.) Rows show frames 0, 12 and 23: plate,
rvm person01.A, rvm person02.A, rvm overlay (person01 red, person02 green), guided overlay.

Also prints, per engine, seconds per frame and the mean absolute alpha change between
consecutive frames (x1e3, per person): a flicker indicator on a clip with no ground truth
(it also counts real motion, so compare engines, not absolute values).

    PYTHONPATH=$PWD python scripts/rvm_contact_sheet.py --out docs/rvm_two_people_sheet.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vfxmatte.io.images import read_image  # noqa: E402

ROWS = (0, 12, 23)
TILE = (320, 180)


def find_clip() -> Path:
    for parent in [REPO, *REPO.parents]:
        if (parent / "shared" / "data" / "two-people").is_dir():
            return parent / "shared" / "data" / "two-people"
    raise SystemExit("../shared/data/two-people not found")


def run_clip(engine: str, clip: Path, work: Path) -> tuple[list, float]:
    """Matte the whole clip as a user would: ``vfxmatte run`` with frame 0's masks only (the
    pipeline propagates them), default temporal smoothing; returns the alphas and s/frame."""
    out = work / engine / "m.####.exr"
    cmd = [
        sys.executable, "-m", "cli.main", "run", "--plate", str(clip / "frames" / "####.jpg"),
        "--mask", f"person01={clip / 'masks' / '####_person1.png'}",
        "--mask", f"person02={clip / 'masks' / '####_person2.png'}",
        "--engine", engine, "--device", "cpu", "--out", str(out),
    ]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    spent = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"vfxmatte run --engine {engine} failed: {proc.stderr.strip()}")
    files = sorted(out.parent.glob("m.*.exr"))
    alphas = []
    for f in files:
        img = read_image(f)
        alphas.append(np.stack([img.channel("person01.A"), img.channel("person02.A")]))
    return alphas, spent / len(files)


def tile(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    return cv2.resize(x, TILE, interpolation=cv2.INTER_AREA)


def overlay(img: np.ndarray, a: np.ndarray) -> np.ndarray:
    tint = 0.3 * img + 0.7 * (
        a[0, ..., None] * [1.0, 0.15, 0.15] + a[1, ..., None] * [0.15, 1.0, 0.15]
    )
    rest = 1.0 - np.clip(a[0] + a[1], 0, 1)
    return np.clip(tint * (1 - rest[..., None]) + img * 0.5 * rest[..., None], 0, 1)


def label(x: np.ndarray, text: str) -> np.ndarray:
    x = (x * 255).astype(np.uint8).copy()
    cv2.putText(x, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description="two-person clip contact sheet for rvm")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "rvm_two_people_sheet.png")
    args = ap.parse_args()
    clip = find_clip()
    frames = [
        np.ascontiguousarray(cv2.imread(str(p))[:, :, ::-1], dtype=np.float32) / 255.0
        for p in sorted((clip / "frames").glob("*.jpg"))
    ]
    results = {}
    work = Path(tempfile.mkdtemp(prefix="vfxmatte-sheet-"))
    for name in ("rvm", "guided"):
        alphas, spf = run_clip(name, clip, work)
        flicker = [
            np.mean([np.abs(alphas[k][i] - alphas[k - 1][i]).mean() for k in range(1, len(alphas))])
            * 1e3
            for i in range(2)
        ]
        print(
            f"{name}: {spf:.2f} s/frame at 1920x1080 (whole command), mean |da/dt| x1e3 person01 "
            f"{flicker[0]:.2f} person02 {flicker[1]:.2f}, alpha area "
            + ", ".join(f"f{k}: {alphas[k][0].mean():.3f}/{alphas[k][1].mean():.3f}" for k in ROWS)
        )
        results[name] = alphas
    rows = []
    for k in ROWS:
        img = frames[k]
        a, g = results["rvm"][k], results["guided"][k]
        rows.append(
            np.concatenate(
                [
                    label(tile(img), f"frame {k:04d} plate"),
                    label(tile(a[0]), "rvm person01.A"),
                    label(tile(a[1]), "rvm person02.A"),
                    label(tile(overlay(img, a)), "rvm overlay"),
                    label(tile(overlay(img, g)), "guided overlay"),
                ],
                axis=1,
            )
        )
    sheet = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet[:, :, ::-1])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
