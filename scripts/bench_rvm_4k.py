"""Seconds per frame and memory of the rvm engine on a 4K (3840x2160) frame.

The frame is the two-person clip's frame 0 (1080p) upscaled 2x, with its two masks, so the
network sees real people at 4K scale. Reports the network alone (``union_alpha``) and the whole
``matte`` (network + split into people), after one warm-up frame, state carried between frames
as in a shot. Memory: process peak RSS on CPU; ``torch.cuda.max_memory_allocated`` on CUDA.

    PYTHONPATH=$PWD python scripts/bench_rvm_4k.py [--device cpu|cuda] [--frames 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vfxmatte.engines import create_engine  # noqa: E402
from vfxmatte.engines.base import EngineInput  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="rvm 4K timing and memory")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--refine", default="none")
    args = ap.parse_args()
    clip = next(
        p / "shared" / "data" / "two-people"
        for p in [REPO, *REPO.parents]
        if (p / "shared" / "data" / "two-people").is_dir()
    )
    img = cv2.imread(str(clip / "frames" / "0000.jpg"))[:, :, ::-1]
    img = cv2.resize(img, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    masks = [
        cv2.resize(
            cv2.imread(str(clip / "masks" / f"0000_person{i}.png"), 0),
            (3840, 2160),
            interpolation=cv2.INTER_NEAREST,
        )
        > 127
        for i in (1, 2)
    ]
    device = torch.device(args.device)
    image = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    inp = EngineInput(
        image=image.to(device),
        masks=torch.from_numpy(np.stack(masks).astype(np.float32)).to(device),
        names=["person01", "person02"],
    )
    engine = create_engine("rvm", device, {"precision": args.precision, "refine": args.refine})
    rss0 = psutil.Process().memory_info().rss
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    inp.new_shot = True
    engine.matte(inp)  # warm-up (first-call allocations, cudnn autotune)
    inp.new_shot = False
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    net_t, all_t, net_cpu, all_cpu = [], [], [], []
    for _ in range(args.frames):
        sync()
        t, c = time.perf_counter(), time.process_time()
        engine.union_alpha(inp.image)
        sync()
        net_t.append(time.perf_counter() - t)
        net_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        engine.matte(inp)
        sync()
        all_t.append(time.perf_counter() - t)
        all_cpu.append(time.process_time() - c)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(
        f"device {device} ({engine.dtype}), 3840x2160, ratio {engine.downsample_ratio(2160, 3840)}"
    )
    print(
        f"network: {np.median(net_t):.2f} s/frame (median of {args.frames}: "
        + ", ".join(f"{t:.2f}" for t in net_t)
        + ")"
    )
    print(
        f"matte (network + split into 2 people, refine={args.refine}): "
        f"{np.median(all_t):.2f} s/frame (" + ", ".join(f"{t:.2f}" for t in all_t) + ")"
    )
    print(
        f"CPU seconds per frame (all threads; robust to a busy machine): network "
        f"{np.median(net_cpu):.2f}, matte {np.median(all_cpu):.2f}; torch threads "
        f"{torch.get_num_threads()}, load average {psutil.getloadavg()[0]:.1f}"
    )
    print(f"process RSS before frames {rss0 / 2**20:.0f} MiB, peak {peak:.0f} MiB")
    if device.type == "cuda":
        print(f"cuda max allocated {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
