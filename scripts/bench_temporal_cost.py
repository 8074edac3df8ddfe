"""Wall time per frame of the temporal smoother and of keyframe propagation on real frames.

Uses the two-person clip (1080p JPEG) and the same frames upscaled to 4K (UHD) with two people's
masks as alphas, so only the video stages are timed (no engine). Example:
  PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/bench_temporal_cost.py ../shared/data/two-people --frames 8
Process CPU time is printed beside wall time: on a shared, loaded box it is the steadier figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.flow import to_grey
from vfxmatte.io.images import Window
from vfxmatte.masks.propagation import PropagatedMasks, resolve_keyframes
from vfxmatte.masks.sources import PerInstanceMasks
from vfxmatte.refine.temporal import WindowSmoother


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    frames = [
        cv2.cvtColor(
            cv2.imread(str(args.clip / "frames" / f"{i:04d}.jpg")), cv2.COLOR_BGR2RGB
        ).astype(np.float32)
        / 255
        for i in range(args.frames)
    ]
    masks = np.stack(
        [
            cv2.imread(str(args.clip / "masks" / f"0000_person{k}.png"), 0).astype(np.float32) / 255
            for k in (1, 2)
        ]
    )
    for label, scale in (("1920x1080", 1), ("3840x2160", 2)):
        imgs = [cv2.resize(f, None, fx=scale, fy=scale) for f in frames]
        alphas = np.stack([cv2.resize(m, None, fx=scale, fy=scale) for m in masks])
        smoother = WindowSmoother()  # bidirectional, lag k: time frames with a full window only
        warm = min(2 * smoother.window, len(imgs) - 1)
        for i, img in enumerate(imgs[:warm]):
            smoother.push(i, img, alphas)
        t0, c0 = time.perf_counter(), time.process_time()
        for i, img in enumerate(imgs[warm:], start=warm):
            smoother.push(i, img, alphas)
        per = (time.perf_counter() - t0) / (len(imgs) - warm)
        cpu = (time.process_time() - c0) / (len(imgs) - warm)
        print(f"smoother {label} 2 people: {per:.3f} s/frame wall, {cpu:.3f} s/frame CPU")
        h, w = imgs[0].shape[:2]
        window = Window(0, 0, w, h)
        folder = args.clip / "masks"
        inner = PerInstanceMasks(
            {f"person0{k}": str(folder / f"####_person{k}.png") for k in (1, 2)}
        )
        shot = list(range(args.frames))
        keys = resolve_keyframes(inner, shot, None)
        if scale != 1:
            print(f"propagation {label}: skipped (masks on disk are 1080p)")
            continue
        source = PropagatedMasks(inner, keys, shot, lambda f: to_grey(frames[f]))
        t0 = time.perf_counter()
        for f in shot[1:]:
            source.load(f, window, window)
        per = (time.perf_counter() - t0) / (len(shot) - 1)
        print(f"propagation {label} 2 people, 1 keyframe: {per:.3f} s/frame (plate read excluded)")


if __name__ == "__main__":
    main()
