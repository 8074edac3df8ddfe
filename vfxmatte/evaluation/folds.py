"""The fold protocol: numbers that tuning on the dev photographs cannot fit.

The 12 dev photographs (dev-sets/single) are split into two fixed halves, A and B (alternating
by name, so hair, plants and plush toys land on both sides). Fold 1 tunes on A and checks on B,
fold 2 the reverse. Each fold's check side is its check half plus N synth sets (``vfxmatte synth``)
built from the check half's foregrounds only, over procedural backgrounds: textures generated
from the seed, so no background pixel was ever seen while tuning (the dev-sets' backgrounds are
frames of the street clip). Every method (the engine, pymatting's closed-form on a 2%-of-long-
side band around the same masks, the rough masks themselves) runs on the same samples in one
run; the report gives mean and worst case per fold, per half and per seed.

A default may change only when the check side improves too, on every fold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vfxmatte.devices import resolve_device
from vfxmatte.errors import BadArgumentError
from vfxmatte.evaluation.dataset import Dataset, discover
from vfxmatte.evaluation.methods import Method, make_methods
from vfxmatte.evaluation.runner import evaluate
from vfxmatte.evaluation.temporal import make_smoother
from vfxmatte.io.atomic import ensure_writable_dir
from vfxmatte.synth.build import build_set
from vfxmatte.synth.recipe import Recipe

HALVES = {
    "A": ("GT01", "GT04", "GT06", "GT11", "GT17", "GT23"),
    "B": ("GT02", "GT05", "GT08", "GT14", "GT20", "GT25"),
}
FOLDS = (("fold1", "A", "B"), ("fold2", "B", "A"))  # (name, tune half, check half)
METRICS = ("sad", "mad")
Log = Callable[[str], None]


@dataclass(frozen=True)
class FoldConfig:
    """Sizes of the synth check sets (small: a full protocol run stays a few minutes)."""

    seeds: int = 5
    first_seed: int = 1000
    single: int = 4
    multi: int = 4
    clips: int = 0
    frames: int = 8
    width: int = 480
    height: int = 270
    procedural: int = 12


def _subset(ds: Dataset, names: tuple[str, ...]) -> Dataset:
    return Dataset(ds.root, ds.kind, [s for s in ds.samples if s.key in names])


def _part_stats(run_samples: list[dict], methods: list[Method]) -> dict[str, dict]:
    """Per method: mean and worst (max) of the per-sample SAD and MAD, the worst sample, leak."""
    out: dict[str, dict] = {}
    for m in methods:
        rows = [(s["key"], s["methods"][m.name]) for s in run_samples]
        entry: dict[str, Any] = {"samples": len(rows)}
        for k in METRICS:
            values = [r["mean"][k] for _, r in rows]
            worst = int(np.argmax(values))
            entry[f"{k}_mean"] = float(np.mean(values))
            entry[f"{k}_worst"] = float(values[worst])
            entry[f"{k}_worst_sample"] = rows[worst][0]
        leaks = [r["leak_mean"] for _, r in rows if r.get("leak_mean") is not None]
        entry["leak_mean"] = float(np.mean(leaks)) if leaks else None
        out[m.name] = entry
    return out


def check_dev_set(ds: Dataset) -> None:
    names = {s.key for s in ds.samples}
    missing = sorted(n for half in HALVES.values() for n in half if n not in names)
    if ds.kind != "images" or missing:
        raise BadArgumentError(
            f"--folds needs the 12 dev photographs (dev-sets/single) in {ds.root}; "
            f"missing {', '.join(missing) or 'an image set'}"
        )


def synth_recipe(dev_root: Path, check: str, seed: int, config: FoldConfig) -> Recipe:
    return Recipe(
        seed=seed,
        foregrounds=[str(dev_root.resolve())],
        foreground_names=list(HALVES[check]),
        procedural_backgrounds=config.procedural,
        width=config.width,
        height=config.height,
        single=config.single,
        multi=config.multi,
        clips=config.clips,
        frames=config.frames,
    )


def run_folds(
    dataset: str | Path,
    out: str | Path,
    engine: str | None = "guided",
    baselines: list[str] | None = None,
    device: str = "cpu",
    engine_options: Mapping[str, Any] | None = None,
    config: FoldConfig = FoldConfig(),
    log: Log = lambda _: None,
) -> dict:
    """Run the protocol; writes folds.json and folds.md under ``out`` and returns the results."""
    out = Path(out)
    ensure_writable_dir(out)
    dev = discover(dataset)
    check_dev_set(dev)
    methods = make_methods(
        engine, baselines or ["pymatting-cf", "mask"], str(resolve_device(device)), engine_options
    )
    smoother, _ = make_smoother(None)
    halves = {}
    for half, names in HALVES.items():
        log(f"folds: dev half {half} ({', '.join(names)})")
        run = evaluate(_subset(dev, names), methods, out / f"half{half}", "masks", None, None, log)
        halves[half] = _part_stats(run.samples, methods)
    folds = []
    for name, tune, check in FOLDS:
        seeds = []
        pooled: list[dict] = []
        for i in range(config.seeds):
            seed = config.first_seed + i
            recipe = synth_recipe(dev.root, check, seed, config)
            where = out / "synth" / name / f"seed{seed}"
            build_set(recipe, where, force=True, log=log)
            samples: list[dict] = []
            for kind in ("single", "multi", "clips"):
                if getattr(recipe, kind):
                    ds = discover(where / kind)
                    run = evaluate(ds, methods, where / "eval" / kind, "masks", smoother, None, log)
                    samples += run.samples
            pooled += samples
            seeds.append({"seed": seed, "stats": _part_stats(samples, methods)})
        folds.append(
            {
                "fold": name,
                "tune": {"half": tune, "names": HALVES[tune], "stats": halves[tune]},
                "check": {"half": check, "names": HALVES[check], "stats": halves[check]},
                "synth": seeds,
                "synth_all": _part_stats(pooled, methods),
            }
        )
    results = {
        "dataset": str(dev.root.resolve()),
        "methods": [m.name for m in methods],
        "config": config.__dict__,
        "halves": HALVES,
        "folds": folds,
        "notes": [
            "synth backgrounds are procedural textures (disjoint from every dev-set background)",
            "synth foregrounds are the fold's check half only",
            "per-sample score = mean over its instances; worst = the largest per-sample value",
        ],
    }
    (out / "folds.json").write_text(json.dumps(results, indent=2))
    (out / "folds.md").write_text(render_folds(results))
    return results


def _cell(stats: dict, metric: str) -> str:
    return f"{stats[f'{metric}_mean']:.2f} / {stats[f'{metric}_worst']:.2f}"


def render_folds(results: dict) -> str:
    """One table per metric: rows are fold parts, columns each method's mean / worst."""
    methods = results["methods"]
    lines = []
    for metric, label in (("sad", "SAD (sum |p-g| / 1000)"), ("mad", "MAD (x1e3)")):
        lines += [f"### {label}: mean / worst per part", ""]
        header = ["fold", "part", "n", *methods, "worst sample (first method)"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for f in results["folds"]:
            parts = [
                (f"tune {f['tune']['half']}", f["tune"]["stats"]),
                (f"check {f['check']['half']}", f["check"]["stats"]),
                *((f"synth seed {s['seed']}", s["stats"]) for s in f["synth"]),
                ("synth all seeds", f["synth_all"]),
            ]
            for part, stats in parts:
                first = stats[methods[0]]
                cells = [_cell(stats[m], metric) for m in methods]
                row = [
                    f["fold"],
                    part,
                    str(first["samples"]),
                    *cells,
                    first[f"{metric}_worst_sample"],
                ]
                lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += _leak_table(results)
    return "\n".join(lines)


def _leak_table(results: dict) -> list[str]:
    """Mean leakage (one instance's alpha on another's solid truth, x1e3 as in eval) of each
    method on the synth parts (the dev halves have one instance: no leakage)."""
    methods = results["methods"]
    lines = ["### leakage (x1e3; issue 14 asks < 2): mean per synth part", ""]
    lines += ["| fold | part | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 2)]
    for f in results["folds"]:
        parts = [(f"synth seed {s['seed']}", s["stats"]) for s in f["synth"]]
        for part, stats in [*parts, ("synth all seeds", f["synth_all"])]:
            cells = [_leak(stats[m].get("leak_mean")) for m in methods]
            lines.append("| " + " | ".join([f["fold"], part, *cells]) + " |")
    lines.append("")
    return lines


def _leak(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
