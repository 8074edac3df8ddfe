"""Contact sheet of the two-person clip (../shared/data/two-people) through rvm, beside guided.

Only frame 0 has masks (masks/0000_person1.png, 0000_person2.png). Later frames get a crude
propagation, enough for this visual check: each engine's own previous alphas, thresholded at 0.5
and dilated by 1% of the long side, are the next frame's masks. Every frame is run in order (the
rvm state is carried); rows show frames 0, 12 and 23: plate, rvm person01.A, rvm person02.A,
rvm overlay (person01 red, person02 green), guided overlay.

Also prints, per engine, seconds per frame and the mean absolute alpha change between
consecutive frames (x1e3, per person): a flicker indicator on a clip with no ground truth
(it also counts real motion, so compare engines, not absolute values).

    PYTHONPATH=$PWD python scripts/rvm_contact_sheet.py --out docs/rvm_two_people_sheet.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vfxmatte.engines import create_engine  # noqa: E402
from vfxmatte.engines.base import EngineInput  # noqa: E402
from vfxmatte.refine.consistency import enforce_instance_consistency  # noqa: E402

ROWS = (0, 12, 23)
TILE = (320, 180)


def find_clip() -> Path:
    for parent in [REPO, *REPO.parents]:
        if (parent / "shared" / "data" / "two-people").is_dir():
            return parent / "shared" / "data" / "two-people"
    raise SystemExit("../shared/data/two-people not found")


def propagate(alphas: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return np.stack([cv2.dilate((a > 0.5).astype(np.uint8), kernel) for a in alphas]).astype(
        np.float32
    )


def run_clip(engine, frames: list[np.ndarray], masks0: np.ndarray) -> tuple[list, float]:
    out, masks, spent = [], masks0, 0.0
    radius = max(2, round(0.01 * max(frames[0].shape[:2])))
    for k, img in enumerate(frames):
        inp = EngineInput(
            image=torch.from_numpy(img).permute(2, 0, 1).contiguous(),
            masks=torch.from_numpy(masks),
            names=["person01", "person02"],
            frame=k,
            new_shot=k == 0,
        )
        t = time.perf_counter()
        with torch.inference_mode():
            alphas, _ = enforce_instance_consistency(engine.matte(inp))
        spent += time.perf_counter() - t
        a = alphas.numpy()
        out.append(a)
        masks = propagate(a, radius)
    return out, spent / len(frames)


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
    torch.set_num_threads(2)
    clip = find_clip()
    frames = [
        np.ascontiguousarray(cv2.imread(str(p))[:, :, ::-1], dtype=np.float32) / 255.0
        for p in sorted((clip / "frames").glob("*.jpg"))
    ]
    masks0 = np.stack(
        [cv2.imread(str(clip / "masks" / f"0000_person{i}.png"), 0) > 127 for i in (1, 2)]
    ).astype(np.float32)
    results = {}
    for name, engine in (("rvm", create_engine("rvm", "cpu")), ("guided", create_engine("guided"))):
        alphas, spf = run_clip(engine, frames, masks0)
        flicker = [
            np.mean([np.abs(alphas[k][i] - alphas[k - 1][i]).mean() for k in range(1, len(alphas))])
            * 1e3
            for i in range(2)
        ]
        print(
            f"{name}: {spf:.2f} s/frame at 1920x1080, mean |da/dt| x1e3 person01 "
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
