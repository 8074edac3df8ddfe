"""dtSSD / MAD of a clip with and without temporal smoothing (stand-in until `vfxmatte eval`).

Clip layout (DESIGN.md): <clip>/frames/<FFFF>.<ext>, <clip>/alphas/<FFFF>/<NN>.png (ground truth
per instance), <clip>/masks/<FFFF>/<NN>.png (rough masks). The engine mattes every frame once;
each smoothing setting is then applied to the same raw alphas, so the comparison isolates the
smoother.

Metrics (per instance, then averaged over instances):
  dtSSD = mean over frame pairs of sqrt(mean((d_pred - d_gt)^2)) * 100, d = a_t - a_{t-1} (RVM's)
  MAD   = mean |a - gt| * 1e3; also per instance, and per frame as a ratio to smoothing off
          (issue 15: no frame more than 5% above its unsmoothed MAD)
  large = frames x instances the smoother flagged as a large override of the engine

Example (docs/benchmarks.md has the numbers):
  PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/eval_temporal_clip.py \
      ../shared/data/dev-sets/clips/clip_GT04_GT23 --scale 0.25 --strengths 0,0.9 \
      --cache /tmp/raw_q.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vfxmatte.engines import EngineInput, create_engine
from vfxmatte.refine.consistency import enforce_instance_consistency
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, smooth_sequence


def _read(path: Path, scale: float, colour: bool) -> np.ndarray:
    flag = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
    img = cv2.imread(str(path), flag | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    depth = 65535.0 if img.dtype == np.uint16 else 255.0
    img = img.astype(np.float32) / depth
    if colour:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if scale != 1.0:
        h, w = img.shape[:2]
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return img


def load_clip(clip: Path, scale: float, limit: int | None):
    """Frames (H,W,3), masks (N,H,W) and ground truth (N,H,W) per frame."""
    frame_paths = sorted(p for p in (clip / "frames").iterdir() if p.is_file())[:limit]
    frames, masks, truth = [], [], []
    for p in frame_paths:
        frames.append(_read(p, scale, True))
        inst = sorted((clip / "masks" / p.stem).glob("*.png"))
        masks.append(np.stack([_read(m, scale, False) for m in inst]))
        truth.append(
            np.stack([_read(clip / "alphas" / p.stem / m.name, scale, False) for m in inst])
        )
    return frames, masks, truth


def dtssd(pred: list[np.ndarray], gt: list[np.ndarray]) -> float:
    """Mean over instances of the mean over frame pairs of sqrt(mean(dpred - dgt)^2) * 100."""
    per_pair = [
        np.sqrt((((pred[t] - pred[t - 1]) - (gt[t] - gt[t - 1])) ** 2).mean(axis=(1, 2)))
        for t in range(1, len(pred))
    ]
    return float(np.mean(per_pair) * 100.0)


def mad(pred: list[np.ndarray], gt: list[np.ndarray]) -> float:
    return float(
        np.mean([np.abs(p - g).mean(axis=(1, 2)) for p, g in zip(pred, gt, strict=True)]) * 1e3
    )


def mad_per_instance(pred: list[np.ndarray], gt: list[np.ndarray]) -> list[float]:
    """Per-instance MAD * 1e3 over the clip."""
    err = np.stack([np.abs(p - g).mean(axis=(1, 2)) for p, g in zip(pred, gt, strict=True)])
    return [float(v) for v in err.mean(0) * 1e3]


def mad_per_frame(pred: list[np.ndarray], gt: list[np.ndarray]) -> np.ndarray:
    """Per-frame MAD * 1e3 (all instances of the frame)."""
    return np.array([np.abs(p - g).mean() * 1e3 for p, g in zip(pred, gt, strict=True)])


def run_engine(name: str, frames: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
    """Raw per-frame alphas (N,H,W) of the engine, with instance consistency, no smoothing."""
    engine = create_engine(name, torch.device("cpu"), {})
    raw = []
    for i, (rgb, m) in enumerate(zip(frames, masks, strict=True)):
        names = [f"person{k + 1:02d}" for k in range(m.shape[0])]
        inp = EngineInput(
            image=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
            masks=torch.from_numpy(m),
            names=names,
            frame=i,
            new_shot=i == 0,
        )
        with torch.inference_mode():
            a, _ = enforce_instance_consistency(engine.matte(inp).alphas.clamp(0, 1))
        raw.append(a.float().numpy())
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("clip", type=Path)
    parser.add_argument("--engine", default="guided")
    parser.add_argument("--scale", type=float, default=0.5, help="downscale factor for speed")
    parser.add_argument(
        "--strengths", default=f"0,{DEFAULT_STRENGTH}", help="comma-separated; 0 = off"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N frames only")
    parser.add_argument("--cache", type=Path, default=None, help="npz of raw alphas (reuse)")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    frames, masks, truth = load_clip(args.clip, args.scale, args.limit)
    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        raw = list(np.load(args.cache)["raw"])
    else:
        raw = run_engine(args.engine, frames, masks)
        if args.cache:
            np.savez_compressed(args.cache, raw=np.stack(raw))
    engine_s = time.perf_counter() - t0
    h, w = frames[0].shape[:2]
    print(
        f"clip={args.clip.name} frames={len(frames)} size={w}x{h} engine={args.engine} "
        f"engine_seconds={engine_s:.1f} mode=bidirectional"
    )
    results = []
    frame_off = mad_per_frame(raw, truth)
    for s in (float(x) for x in args.strengths.split(",")):
        t1 = time.perf_counter()
        smoothed = smooth_sequence(frames, raw, s)
        pred = [r.alphas for r in smoothed]
        ratio = mad_per_frame(pred, truth) / np.maximum(frame_off, 1e-9)
        row = {
            "strength": s,
            "dtSSD": dtssd(pred, truth),
            "MAD": mad(pred, truth),
            "MAD_per_instance": mad_per_instance(pred, truth),
            "worst_frame_MAD_ratio": float(ratio.max()),
            "worst_frame": int(ratio.argmax()),
            "large_overrides": int(sum(r.large.sum() for r in smoothed)),
            "max_override": float(max(r.override.max() for r in smoothed)),
            "smooth_seconds": time.perf_counter() - t1,
        }
        results.append(row)
        print(
            f"strength={s:.2f} dtSSD={row['dtSSD']:.3f} MAD={row['MAD']:.3f} "
            f"MAD/instance={','.join(f'{v:.3f}' for v in row['MAD_per_instance'])} "
            f"worst_frame_MAD_ratio={row['worst_frame_MAD_ratio']:.3f} (frame {row['worst_frame']}) "
            f"large_overrides={row['large_overrides']} smooth_seconds={row['smooth_seconds']:.1f}"
        )
    if len(results) > 1 and results[0]["strength"] == 0.0:
        base = results[0]
        for row in results[1:]:
            print(
                f"strength={row['strength']:.2f}: dtSSD {100 * (row['dtSSD'] / base['dtSSD'] - 1):+.1f}% "
                f"MAD {100 * (row['MAD'] / base['MAD'] - 1):+.1f}% vs off"
            )
    if args.json:
        args.json.write_text(json.dumps({"clip": str(args.clip), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
