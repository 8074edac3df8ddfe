"""Regenerate docs/review_offscreen.png, docs/review_xvfb.png and the two look screenshots
(docs/review_exposure_view.png, docs/review_exposure_red.png) on the real two-person clip.

Steps: the clip's first-frame masks are copied as the masks of frames 0-3 (the clip ships masks
for frame 0 only) into a temporary folder; `vfxmatte run` makes two results (default band and
band=0.02) for the A/B wipe; a few review verdicts are written; then `vfxmatte review
--screenshot` renders the window once under offscreen Qt and once on a real X server (Xvfb, Qt
xcb platform). PNGs are palette-quantised with Pillow when it is installed, to stay small.

The look screenshots use the built-in demo shot (scene-linear EXR); `--looks-only` makes just those.

Usage: PYTHONPATH=. python scripts/review_screenshots.py [--data ../shared/data] [--work /tmp/x]
       [--looks-only]
Needs: the shared data folder, Xvfb (Debian: xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRAMES = range(4)


def find_data() -> Path | None:
    """$VFXMATTE_SHARED_DATA, else the first shared/data beside the checkout or above it."""
    env = os.environ.get("VFXMATTE_SHARED_DATA")
    if env:
        return Path(env)
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def cli(*args: str, env: dict[str, str] | None = None) -> None:
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = str(REPO)
    subprocess.run([sys.executable, "-m", "cli.main", *args], check=True, env=full_env, cwd=REPO)


def make_results(data: Path, work: Path) -> tuple[Path, Path, list[str]]:
    clip = data / "two-people"
    masks = work / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    for f in FRAMES:
        for i in (1, 2):
            shutil.copy(clip / "masks" / f"0000_person{i}.png", masks / f"person{i}.{f:04d}.png")
    mask_args = [
        "--mask",
        f"person01={masks}/person1.####.png",
        "--mask",
        f"person02={masks}/person2.####.png",
    ]
    common = ["--plate", str(clip / "frames" / "####.jpg"), "--frames", "0-3", "--device", "cpu"]
    a, b = work / "resA", work / "resB"
    if not (a / "matte.0003.exr").exists():
        cli("run", *common, *mask_args, "--out", f"{a}/matte.####.exr")
    if not (b / "matte.0003.exr").exists():
        cli(
            "run",
            *common,
            *mask_args,
            "--out",
            f"{b}/matte.####.exr",
            "--engine-option",
            "band=0.02",
        )
    return a, b, mask_args


def write_review(result: Path) -> None:
    sys.path.insert(0, str(REPO))
    from vfxmatte.review.model import APPROVED, FLAGGED, ResultFolder, ReviewStore

    store = ReviewStore.beside(ResultFolder(result))
    for f in (0, 1):
        for p in ("person01", "person02"):
            store.set(f, p, APPROVED)
    store.set(2, "person01", FLAGGED, "hair edge boils on the left")
    store.set(3, "person02", FLAGGED, "curls cut off")
    store.save()


def shrink(src: Path, dst: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        shutil.copy(src, dst)
        return
    image = Image.open(src).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    image.save(dst, optimize=True)


LOOKS = {  # the viewer's look: exposure in stops and the OCIO display/view of the config
    "review_exposure_view.png": ["--view", "plate", "--exposure", "-1",
                                 "--display", "sRGB - Display"],
    "review_exposure_red.png": ["--view", "plate", "--exposure", "1",
                                "--view-transform", "Un-tone-mapped", "--channel", "R"],
}  # fmt: skip


def look_screenshots(work: Path) -> None:
    """The look controls on the demo shot: a scene-linear EXR plate, so exposure has highlights
    above 1 to bring back (the two-person clip is an 8-bit JPEG)."""
    demo = work / "demo"
    if not (demo / "mattes" / "matte.1002.exr").exists():
        cli("demo", "--out", str(demo), "--frames", "2", "--device", "cpu")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    for name, look in LOOKS.items():
        raw = work / name
        cli("review", str(demo / "mattes"), "--size", "1400x860", "--frame", "1001", *look,
            "--screenshot", str(raw), env=env)  # fmt: skip
        shrink(raw, REPO / "docs" / name)
        print(f"docs/{name}: {(REPO / 'docs' / name).stat().st_size / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=find_data())
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--looks-only", action="store_true", help="only the look screenshots")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vfxmatte_shots_"))
    look_screenshots(work)
    if args.looks_only:
        return
    if args.data is None:
        parser.error("shared data folder not found: pass --data or set VFXMATTE_SHARED_DATA")
    a, b, mask_args = make_results(args.data, work)
    write_review(a)
    view = ["review", str(a), "--compare", str(b), *mask_args, "--size", "1400x860"]

    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    raw = work / "offscreen.png"
    cli(*view, "--wipe", "--frame", "2", "--person", "person01", "--screenshot", str(raw), env=env)
    shrink(raw, REPO / "docs" / "review_offscreen.png")

    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        display = ":" + xvfb.stdout.readline().strip()
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        raw = work / "xvfb.png"
        cli(*view, "--frame", "3", "--person", "person02", "--view", "alpha",
            "--screenshot", str(raw), env=env)  # fmt: skip
        shrink(raw, REPO / "docs" / "review_xvfb.png")
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    for name in ("review_offscreen.png", "review_xvfb.png"):
        size = (REPO / "docs" / name).stat().st_size
        print(f"docs/{name}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
