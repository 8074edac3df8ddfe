"""Benchmark the review panel's data path on a 4K shot: is scrubbing interactive?

Writes a 4K demo shot (scene-linear EXR plate) and a result folder whose person layers are the
demo's true alphas (the panel's cost does not depend on which engine made the layers, and a 4K
guided solve per frame would dominate the run time), then times, per frame:

- cold proxy build (read the 4K result EXR + plate, OCIO to sRGB, downscale to the proxy),
- the same from the disk cache in a fresh session, and from the in-memory LRU,
- a full-resolution load (what zooming past the proxy costs),
- composing what the viewer shows from a cached proxy (the GUI-thread work per scrub step),
- the stability analysis (DIS flow + change) per frame at proxy size.

Usage: PYTHONPATH=. python scripts/bench_review.py [--frames 4] [--width 3840 --height 2160]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.demo import make_demo_shot
from vfxmatte.io.images import Window, read_image, write_exr
from vfxmatte.review import compose
from vfxmatte.review.compose import ViewMode
from vfxmatte.review.model import FrameSource, ProxyCache, ResultFolder, open_plate_view
from vfxmatte.review.stability import analyse


def write_results(shot, out: Path) -> None:
    for frame in shot.frames:
        alphas = {}
        for name, pattern in shot.truth.items():
            png = cv2.imread(pattern.replace("####", f"{frame:04d}"), cv2.IMREAD_UNCHANGED)
            alphas[name] = png.astype(np.float32) / 65535.0
        h, w = next(iter(alphas.values())).shape
        union = np.clip(sum(alphas.values()), 0, 1)
        channels = {"A": union, **{f"{n}.A": a for n, a in alphas.items()}}
        write_exr(
            out / f"matte.{frame:04d}.exr",
            channels,
            Window(0, 0, w, h),
            Window(0, 0, w, h),
            extra_attributes={
                "vfxmatte:engine": "truth",
                "vfxmatte:instances": ",".join(alphas),
                "vfxmatte:plate": shot.plate,
            },
        )


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.0f} ms (median of {len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--proxy", type=int, default=1280)
    parser.add_argument("--gui", action="store_true", help="also time scrubbing in the window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        shot = make_demo_shot(root / "shot", args.frames, args.width, args.height)
        write_results(shot, root / "results")
        print(
            f"setup: {args.frames} frames {args.width}x{args.height} in {time.perf_counter() - t:.1f} s"
        )
        size = (root / "results" / f"matte.{shot.frames[0]:04d}.exr").stat().st_size
        print(f"result EXR size: {size / 2**20:.1f} MiB per frame (2 people + union, half, zip)")

        t = time.perf_counter()
        result = ResultFolder(root / "results")
        print(f"open result folder (headers): {1000 * (time.perf_counter() - t):.0f} ms")

        disk = root / "cache"
        src = FrameSource(result, open_plate_view(result), ProxyCache(disk_folder=disk), args.proxy)
        cold, hot, full, draw = [], [], [], []
        for f in result.frames:
            t = time.perf_counter()
            img = src.images(f)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            src.images(f)
            hot.append(time.perf_counter() - t)
            t = time.perf_counter()
            for person in (None, 0):
                compose.render(img, ViewMode.OVERLAY, person)
            draw.append((time.perf_counter() - t) / 2)
        for f in result.frames[:2]:
            t = time.perf_counter()
            src.images(f, full=True)
            full.append(time.perf_counter() - t)
        fresh = FrameSource(
            result, open_plate_view(result), ProxyCache(disk_folder=disk), args.proxy
        )
        from_disk = []
        for f in result.frames:
            t = time.perf_counter()
            fresh.images(f)
            from_disk.append(time.perf_counter() - t)
        t = time.perf_counter()
        read_image(result.path(result.frames[0]))
        exr_only = time.perf_counter() - t
        print(f"proxy long side: {args.proxy} px -> {img.alphas.shape[2]}x{img.alphas.shape[1]}")
        print(f"read one 4K result EXR (all channels): {1000 * exr_only:.0f} ms")
        print(f"cold proxy build (result + plate + OCIO + resize): {ms(cold)}")
        print(f"proxy from the disk cache (new session): {ms(from_disk)}")
        print(f"proxy from the memory cache: {ms(hot)}")
        print(f"compose one view from a cached proxy (GUI thread): {ms(draw)}")
        print(f"full-resolution load (zoom past the proxy): {ms(full)}")
        t = time.perf_counter()
        analyse(src)
        per = (time.perf_counter() - t) / len(result.frames)
        print(f"stability analysis on cached proxies: {1000 * per:.0f} ms per frame")
        if args.gui:
            gui_scrub(root / "results", disk, args.proxy, result.frames)


def gui_scrub(folder: Path, cache: Path, proxy: int, frames: list[int]) -> None:
    """Time one scrub step in the real window (offscreen Qt): slider move -> frame on screen."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from vfxmatte.review.app import application
    from vfxmatte.review.window import ReviewOptions, ReviewWindow

    app = application()
    window = ReviewWindow(ReviewOptions(str(folder), cache_dir=str(cache), proxy_long_side=proxy))
    window.resize(1500, 900)
    window.show()
    while not window.is_idle():
        app.processEvents()
        time.sleep(0.01)
    steps = []
    for _ in range(3):
        for f in frames:
            t = time.perf_counter()
            window.go_to_frame(f)
            while window.displayed is None or window.displayed[0] != f:
                app.processEvents()
            app.processEvents()  # the repaint
            steps.append(time.perf_counter() - t)
    print(f"GUI scrub step on cached proxies (slider -> composed -> painted): {ms(steps)}")
    window.close()


if __name__ == "__main__":
    main()
