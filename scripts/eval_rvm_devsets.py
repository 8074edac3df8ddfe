"""Evaluate rvm beside the guided engine and the mask baseline on ../shared/data/dev-sets.

A stop-gap until ``vfxmatte eval`` (issue 4) lands; conventions follow the dev-sets: per instance,
SAD = sum|a - gt| / 1000 and MAD = mean|a - gt| * 1e3, alphas in [0, 1]. Every engine's output
goes through ``enforce_instance_consistency`` as the pipeline does. Clips run in frame order with
``new_shot`` on the first frame, so rvm's recurrent state is used.

    PYTHONPATH=$PWD python scripts/eval_rvm_devsets.py [--sets single multi clips] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vfxmatte.engines import create_engine  # noqa: E402
from vfxmatte.engines.base import EngineInput  # noqa: E402
from vfxmatte.refine.consistency import enforce_instance_consistency  # noqa: E402


def find_data() -> Path:
    for parent in [REPO, *REPO.parents]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    raise SystemExit("../shared/data not found")


def read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0


def read_gray(path: Path) -> np.ndarray:
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a.ndim == 3:
        a = a[:, :, 0]
    return a.astype(np.float32) / (65535.0 if a.dtype == np.uint16 else 255.0)


class MaskBaseline:
    """The rough masks themselves, as alpha: what an engine has to beat."""

    def matte(self, inp: EngineInput) -> torch.Tensor:
        return (inp.masks > 0.5).float()

    def reset(self) -> None:
        pass


def make_engines(names: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in names:
        if name == "mask":
            out[name] = MaskBaseline()
        elif name == "guided":
            out[name] = create_engine("guided", "cpu")
        elif name == "rvm":  # defaults: guided fallback for people the network misses
            out[name] = create_engine("rvm", "cpu")
        elif name == "rvm-raw":  # the network alone, split by the masks
            out[name] = create_engine("rvm", "cpu", {"fallback": "none"})
        elif name == "rvm3":  # stills: three passes on the first frame to settle the state
            out[name] = create_engine("rvm", "cpu", {"first_frame_passes": 3, "fallback": "none"})
        elif name == "rvm+guided":
            out[name] = create_engine("rvm", "cpu", {"refine": "guided"})
        else:
            raise SystemExit(f"unknown engine {name}")
    return out


def run(engine, image: np.ndarray, masks: np.ndarray, new_shot: bool) -> np.ndarray:
    inp = EngineInput(
        image=torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous(),
        masks=torch.from_numpy(masks),
        names=[f"person{i + 1:02d}" for i in range(len(masks))],
        new_shot=new_shot,
    )
    with torch.inference_mode():
        alphas, _ = enforce_instance_consistency(engine.matte(inp).alphas)
    return alphas.cpu().numpy()


def score(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    err = np.abs(pred - gt)
    return float(err.sum() / 1000.0), float(err.mean() * 1e3)


def stills(root: Path, engines: dict[str, object], results: dict) -> None:
    for image_path in sorted((root / "images").glob("*.png")):
        name = image_path.stem
        image = read_rgb(image_path)
        inst = sorted((root / "alphas" / name).glob("*.png"))
        gts = np.stack([read_gray(p) for p in inst])
        masks = np.stack([read_gray(root / "masks" / name / p.name) for p in inst])
        for ename, engine in engines.items():
            t = time.perf_counter()
            pred = run(engine, image, masks, new_shot=True)
            dt = time.perf_counter() - t
            for i in range(len(inst)):
                sad, mad = score(pred[i], gts[i])
                results[(root.name, ename)].append((f"{name}/{inst[i].stem}", sad, mad, dt))


def clips(root: Path, engines: dict[str, object], results: dict) -> None:
    for clip in sorted(p for p in root.iterdir() if p.is_dir()):
        frames = sorted((clip / "frames").iterdir())
        for ename, engine in engines.items():
            engine.reset()
            for k, frame_path in enumerate(frames):
                stem = frame_path.stem
                inst = sorted((clip / "alphas" / stem).glob("*.png"))
                gts = np.stack([read_gray(p) for p in inst])
                masks = np.stack([read_gray(clip / "masks" / stem / p.name) for p in inst])
                t = time.perf_counter()
                pred = run(engine, read_rgb(frame_path), masks, new_shot=k == 0)
                dt = time.perf_counter() - t
                for i in range(len(inst)):
                    sad, mad = score(pred[i], gts[i])
                    results[("clips", ename)].append((f"{clip.name}/{stem}/{i:02d}", sad, mad, dt))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["single", "multi", "clips"])
    ap.add_argument(
        "--engines", nargs="+", default=["mask", "guided", "rvm-raw", "rvm", "rvm+guided"]
    )
    ap.add_argument("--json", type=Path, help="write per-instance rows here")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = find_data() / "dev-sets"
    engines = make_engines(args.engines)
    results: dict[tuple[str, str], list] = defaultdict(list)
    for s in args.sets:
        (clips if s == "clips" else stills)(data / s, engines, results)
    print("| set | engine | instances | mean SAD | mean MAD | s/frame |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (s, ename), rows in results.items():
        sad = np.mean([r[1] for r in rows])
        mad = np.mean([r[2] for r in rows])
        frames = {r[0].rsplit("/", 1)[0]: r[3] for r in rows}
        print(
            f"| {s} | {ename} | {len(rows)} | {sad:.2f} | {mad:.2f} | "
            f"{np.mean(list(frames.values())):.2f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps({f"{s}:{e}": rows for (s, e), rows in results.items()}, indent=1)
        )


if __name__ == "__main__":
    main()
