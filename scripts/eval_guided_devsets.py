"""Measure the ``guided`` engine on dev-sets/{single,multi} against pymatting closed-form.

Stand-in for ``vfxmatte eval`` (issue 4) with the same metric conventions:
SAD = sum|a-gt|/1000, MAD = mean|a-gt|*1e3, MSE = mean((a-gt)^2)*1e3, alphas in [0,1].
Leakage of instance i = mean of alpha_i over the pixels where another instance's ground-truth
alpha is >= 0.99 (the other person's solid region), averaged over instances.

Baselines (pymatting 1.1.16 ``estimate_alpha_cf``, default eps 1e-7, radius 1), per instance:
- ``band2``: trimap = erode/dilate of the binarised rough mask by a square of radius
  round(0.02 * long side) (unknown band 4% of the long side wide, centred on the mask edge);
- ``bench``: the benchmark's own trimap (single/ only, single/trimaps/).
Baseline alphas are cached (``--cache``) because pymatting takes minutes per 1080p instance.

Usage: PYTHONPATH=$PWD python scripts/eval_guided_devsets.py [--sets single multi] [--no-baselines]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.frame import FramePath


def shared_data() -> Path:
    """$VFXMATTE_SHARED_DATA, else the ``shared/data`` folder beside an ancestor of the repo."""
    env = os.environ.get("VFXMATTE_SHARED_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for parent in [here, *here.parents]:
        cand = parent / "shared" / "data"
        if cand.is_dir():
            return cand
    raise SystemExit("shared data not found: set VFXMATTE_SHARED_DATA")


def read_rgb(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(im, cv2.COLOR_BGR2RGB).astype(np.float64) / 255.0


def read_gray(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im.ndim == 3:
        im = im[..., 0]
    return im.astype(np.float64) / (65535.0 if im.dtype == np.uint16 else 255.0)


def band_trimap(mask: np.ndarray, frac: float) -> np.ndarray:
    """The fixed-band baseline trimap: 1 fg, 0 bg, 0.5 unknown."""
    r = max(1, round(frac * max(mask.shape)))
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    m = (mask > 0.5).astype(np.uint8)
    fg = cv2.erode(m, k)
    maybe = cv2.dilate(m, k)
    tri = np.full(mask.shape, 0.5)
    tri[fg > 0] = 1.0
    tri[maybe == 0] = 0.0
    return tri


def pymatting_cf(image: np.ndarray, trimap: np.ndarray, cache: Path, key: str) -> np.ndarray:
    path = cache / f"{key}.npy"
    if path.exists():
        return np.load(path)
    from pymatting import estimate_alpha_cf

    alpha = estimate_alpha_cf(image, trimap)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, alpha.astype(np.float32))
    return alpha


def sad(a, gt):
    return float(np.abs(a - gt).sum() / 1000.0)


def mad(a, gt):
    return float(np.abs(a - gt).mean() * 1e3)


def mse(a, gt):
    return float(((a - gt) ** 2).mean() * 1e3)


def leakage(alphas: list[np.ndarray], gts: list[np.ndarray]) -> float:
    vals = []
    for i, a in enumerate(alphas):
        solid = np.zeros(a.shape, bool)
        for j, g in enumerate(gts):
            if j != i:
                solid |= g >= 0.99
        if solid.any():
            vals.append(float(a[solid].mean()))
    return float(np.mean(vals)) if vals else 0.0


def run_engine(engine: GuidedEngine, image: np.ndarray, masks: list[np.ndarray]):
    inp = EngineInput(
        image=torch.from_numpy(image.transpose(2, 0, 1)).float(),
        masks=torch.from_numpy(np.stack(masks)).float(),
        names=[f"person{i + 1:02d}" for i in range(len(masks))],
    )
    t0 = time.perf_counter()
    # the pipeline's own per-frame path (engine -> consistency with its cores), stills: no smoothing
    (result,) = FramePath(engine, 0.0).push(inp)
    return [a.astype(np.float64) for a in result.alphas], time.perf_counter() - t0


def eval_set(root: Path, engine, baselines: bool, cache: Path, names_filter=None):
    rows = []
    for img_path in sorted((root / "images").glob("*.png")):
        name = img_path.stem
        if names_filter and name not in names_filter:
            continue
        image = read_rgb(img_path)
        gts = [read_gray(p) for p in sorted((root / "alphas" / name).glob("*.png"))]
        masks = [read_gray(p) for p in sorted((root / "masks" / name).glob("*.png"))]
        preds, secs = run_engine(engine, image, masks)
        row = {"name": name, "seconds": secs, "instances": []}
        for i, (p, g, m) in enumerate(zip(preds, gts, masks, strict=True)):
            inst = {
                "guided": {"sad": sad(p, g), "mad": mad(p, g), "mse": mse(p, g)},
                "mask": {"sad": sad(m, g), "mad": mad(m, g), "mse": mse(m, g)},
            }
            if baselines:
                b = pymatting_cf(
                    image, band_trimap(m, 0.02), cache, f"{root.name}_{name}_{i}_band2"
                )
                inst["band2"] = {"sad": sad(b, g), "mad": mad(b, g), "mse": mse(b, g)}
                tri_path = root / "trimaps" / f"{name}.png"
                if tri_path.exists() and len(gts) == 1:
                    t = read_gray(tri_path)
                    bb = pymatting_cf(image, t, cache, f"{root.name}_{name}_bench")
                    inst["bench"] = {"sad": sad(bb, g), "mad": mad(bb, g), "mse": mse(bb, g)}
            row["instances"].append(inst)
        row["leakage"] = leakage(preds, gts) if len(gts) > 1 else None
        if baselines and len(gts) > 1:
            bl = [np.load(cache / f"{root.name}_{name}_{i}_band2.npy") for i in range(len(gts))]
            row["leakage_band2"] = leakage(bl, gts)
            row["leakage_mask"] = leakage(masks, gts)
        rows.append(row)
        msg = " ".join(
            f"{k}={v['sad']:.2f}/{v['mad']:.2f}"
            for inst in row["instances"]
            for k, v in inst.items()
        )
        print(f"{root.name}/{name} {secs:.1f}s SAD/MAD {msg} leak={row['leakage']}", flush=True)
    return rows


def summarise(rows, key):
    methods = rows[0]["instances"][0].keys()
    out = {}
    for m in methods:
        vals = [inst[m][key] for r in rows for inst in r["instances"] if m in inst]
        out[m] = float(np.mean(vals))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["single", "multi"])
    ap.add_argument("--names", nargs="*", default=None)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vfxmatte-eval")
    ap.add_argument("--option", action="append", default=[], help="engine option key=value")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    # one thread by default: on a shared 2-core box torch's pool oversubscribes (60x slower)
    torch.set_num_threads(int(os.environ.get("VFXMATTE_EVAL_THREADS", "1")))
    options = {}
    for kv in args.option:
        k, v = kv.split("=", 1)
        options[k] = json.loads(v)
    engine = GuidedEngine("cpu", options)
    data = shared_data() / "dev-sets"
    report = {"options": options}
    for s in args.sets:
        rows = eval_set(data / s, engine, not args.no_baselines, args.cache, args.names)
        summary = {
            "sad": summarise(rows, "sad"),
            "mad": summarise(rows, "mad"),
            "mse": summarise(rows, "mse"),
        }
        leaks = [r["leakage"] for r in rows if r["leakage"] is not None]
        if leaks:
            summary["leakage"] = {"guided": float(np.mean(leaks))}
            for k in ("band2", "mask"):
                lk = [r[f"leakage_{k}"] for r in rows if f"leakage_{k}" in r]
                if lk:
                    summary["leakage"][k] = float(np.mean(lk))
        summary["seconds_per_image"] = float(np.mean([r["seconds"] for r in rows]))
        report[s] = {"rows": rows, "summary": summary}
        print(f"== {s}: " + json.dumps(summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
