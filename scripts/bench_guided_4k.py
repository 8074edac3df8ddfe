"""Seconds per frame and peak RSS of the ``guided`` engine on a two-person UHD frame.

The frame is a real dev-set composite (dev-sets/multi, 1920x1080, two people with ground truth)
upscaled x``--scale`` (bicubic image, nearest-neighbour rough masks, bilinear ground truth), so
SAD/MAD against the upscaled ground truth can be reported at the same time. ``--pymatting``
also runs pymatting's ``estimate_alpha_cf`` on the same frame with the engine's own trimaps
(per person) and reports its time and SAD, for the "same frame and trimap" comparison.

Run each configuration in a fresh process (peak RSS is the process maximum); ``seconds`` is the
median of ``--repeat`` runs (3), the first of which includes the process's warm-up:
    PYTHONPATH=$PWD python scripts/bench_guided_4k.py --scale 2 [--device cuda] [--pymatting]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_guided_devsets import leakage, mad, read_gray, read_rgb, sad, shared_data  # noqa: E402

from vfxmatte.engines.base import EngineInput  # noqa: E402
from vfxmatte.engines.guided import GuidedEngine  # noqa: E402
from vfxmatte.refine.consistency import enforce_instance_consistency  # noqa: E402


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="pair00_GT14_GT17")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("VFXMATTE_THREADS", "1")))
    ap.add_argument("--pymatting", action="store_true")
    ap.add_argument(
        "--repeat", type=int, default=3, help="engine runs; seconds is their median (warm)"
    )
    ap.add_argument("--option", action="append", default=[], help="engine option key=value")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    options = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.option)}
    root = shared_data() / "dev-sets" / "multi"
    image = read_rgb(root / "images" / f"{args.name}.png")
    gts = [read_gray(p) for p in sorted((root / "alphas" / args.name).glob("*.png"))]
    masks = [read_gray(p) for p in sorted((root / "masks" / args.name).glob("*.png"))]
    h, w = (round(s * args.scale) for s in image.shape[:2])
    image = np.clip(cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    gts = [cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR) for g in gts]
    masks = [cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) for m in masks]
    rss_inputs = peak_rss_gb()
    device = torch.device(args.device)
    inp = EngineInput(
        image=torch.from_numpy(image.transpose(2, 0, 1)).float().to(device),
        masks=torch.from_numpy(np.stack(masks)).float().to(device),
        names=[f"person{i + 1:02d}" for i in range(len(masks))],
    )
    engine = GuidedEngine(device, options)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    runs, cpu = [], []
    for _ in range(max(1, args.repeat)):  # a farm task mattes frame after frame: warm runs
        t0, c0 = time.perf_counter(), time.process_time()
        out = engine.matte(inp)
        alphas, _ = enforce_instance_consistency(out.alphas, out.cores)
        if device.type == "cuda":
            torch.cuda.synchronize()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    secs = sorted(runs)[len(runs) // 2]
    preds = [a.cpu().double().numpy() for a in alphas]
    result = {
        "frame": f"{w}x{h}",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": args.threads,
        "seconds": round(secs, 2),
        "runs": [round(t, 2) for t in runs],
        # process CPU seconds (all threads; median): what a loaded, shared box does not inflate
        "cpu_seconds": round(sorted(cpu)[len(cpu) // 2], 2),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "peak_rss_after_inputs_gb": round(rss_inputs, 3),
        "sad": [round(sad(p, g), 2) for p, g in zip(preds, gts, strict=True)],
        "mad": [round(mad(p, g), 2) for p, g in zip(preds, gts, strict=True)],
        "leakage": round(leakage(preds, gts), 5),
        "unknown_fraction": round(float((out.diagnostics["trimaps"] == 0.5).float().mean()), 4),
    }
    if device.type == "cuda":
        result["cuda_peak_gb"] = round(torch.cuda.max_memory_allocated(device) / 1024**3, 3)
    if args.pymatting:
        from pymatting import estimate_alpha_cf

        t1, c1 = time.perf_counter(), time.process_time()
        ref = []
        for tri in out.diagnostics["trimaps"].cpu().double().numpy():
            ref.append(estimate_alpha_cf(image, tri))
        result["pymatting_seconds"] = round(time.perf_counter() - t1, 2)
        result["pymatting_cpu_seconds"] = round(time.process_time() - c1, 2)
        result["cpu_speedup"] = round(
            result["pymatting_cpu_seconds"] / max(1e-9, sorted(cpu)[len(cpu) // 2]), 1
        )
        result["pymatting_sad"] = [round(sad(p, g), 2) for p, g in zip(ref, gts, strict=True)]
        result["pymatting_peak_rss_gb"] = round(peak_rss_gb(), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
