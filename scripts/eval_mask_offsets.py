"""The guided engine on dev-sets with its rough masks moved further: robustness to masks that are
off by more than the search band (generous roto, grown or shrunk segmenter masks).

Each mask is passed through a square ``cv2.dilate`` (s > 0) or ``cv2.erode`` (s < 0) of s px,
then matted with and without the engine's mask-offset step (``snap``). Prints mean SAD (single/)
or mean per-instance MAD and leakage (multi/), same conventions as eval_guided_devsets.py.

Usage: OMP_NUM_THREADS=1 PYTHONPATH=$PWD python scripts/eval_mask_offsets.py --set single \
           --shifts -20,-12,-6,0,6,12,20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_guided_devsets import (  # noqa: E402
    leakage,
    mad,
    read_gray,
    read_rgb,
    run_engine,
    sad,
    shared_data,
)

from vfxmatte.engines.guided import GuidedEngine  # noqa: E402


def moved(mask: np.ndarray, shift: int) -> np.ndarray:
    m = (mask > 0.5).astype(np.uint8)
    if shift == 0:
        return m.astype(np.float64)
    kernel = np.ones((2 * abs(shift) + 1,) * 2, np.uint8)
    out = cv2.dilate(m, kernel) if shift > 0 else cv2.erode(m, kernel)
    return out.astype(np.float64)


def evaluate(root: Path, shift: int, options: dict) -> dict:
    engine = GuidedEngine("cpu", options)
    sads, mads, mask_mads, leaks = [], [], [], []
    for img_path in sorted((root / "images").glob("*.png")):
        name = img_path.stem
        image = read_rgb(img_path)
        gts = [read_gray(p) for p in sorted((root / "alphas" / name).glob("*.png"))]
        masks = [moved(read_gray(p), shift) for p in sorted((root / "masks" / name).glob("*.png"))]
        preds, _ = run_engine(engine, image, masks)
        for p, g, m in zip(preds, gts, masks, strict=True):
            sads.append(sad(p, g))
            mads.append(mad(p, g))
            mask_mads.append(mad(m, g))
        if len(gts) > 1:
            leaks.append(leakage(preds, gts))
    return {
        "sad": float(np.mean(sads)),
        "mad": float(np.mean(mads)),
        "mask_mad": float(np.mean(mask_mads)),
        "leakage": float(np.mean(leaks)) if leaks else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="single", choices=["single", "multi"])
    ap.add_argument("--shifts", default="-12,0,12")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = shared_data() / "dev-sets" / args.set
    print("| shift (px) | snap | SAD | MAD | moved masks' MAD | leakage |")
    print("|---|---|---|---|---|---|")
    for shift in (int(s) for s in args.shifts.split(",")):
        for snap in (0, 1):
            r = evaluate(root, shift, {"snap": snap})
            leak = f"{r['leakage']:.4f}" if r["leakage"] is not None else "-"
            print(
                f"| {shift:+d} | {'on' if snap else 'off'} | {r['sad']:.2f} | {r['mad']:.2f} "
                f"| {r['mask_mad']:.2f} | {leak} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
