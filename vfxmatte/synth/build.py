"""Build a synth set from a recipe: single/, multi/ and clips/ in the dev-sets layout.

Every sample draws from its own stream, ``default_rng([seed, kind, index])``, so a set with more
samples starts with the same ones. ``manifest.json`` records what each sample drew (sources,
poses, faults) for people; the recipe alone rebuilds the set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.errors import BadArgumentError, InvalidInputError
from vfxmatte.synth import faults as F
from vfxmatte.synth.placement import Pose, Track, composite, render, spread_poses
from vfxmatte.synth.recipe import RECIPE_NAME, Recipe, recipe_json
from vfxmatte.synth.sources import (
    Background,
    ForegroundSource,
    background_frame,
    find_backgrounds,
    find_foregrounds,
    load_foreground,
    procedural_backgrounds,
)
from vfxmatte.synth.writers import write_alpha, write_mask, write_rgb

KINDS = {"single": 1, "multi": 2, "clips": 3}
MAX_PLACEMENT_TRIES = 8
MIN_VISIBLE = 0.3  # each instance keeps at least this share of its alpha in view (stills)
Log = Callable[[str], None]


class Sources:
    """The recipe's foregrounds and backgrounds, found once."""

    def __init__(self, recipe: Recipe):
        self.foregrounds: list[ForegroundSource] = [
            f for folder in recipe.foregrounds for f in find_foregrounds(folder)
        ]
        if recipe.foreground_names is not None:
            wanted = set(recipe.foreground_names)
            missing = wanted - {f.name for f in self.foregrounds}
            if missing:
                raise InvalidInputError(
                    f"foreground {sorted(missing)[0]} is not in {', '.join(recipe.foregrounds)}"
                )
            self.foregrounds = [f for f in self.foregrounds if f.name in wanted]
        self.backgrounds: list[Background] = [
            b for folder in recipe.backgrounds for b in find_backgrounds(folder)
        ] + procedural_backgrounds(recipe.seed, recipe.procedural_backgrounds)
        self.long_side = max(recipe.width, recipe.height)

    def pick_foregrounds(self, rng: np.random.Generator, count: int) -> list[ForegroundSource]:
        replace = count > len(self.foregrounds)
        return [self.foregrounds[i] for i in rng.choice(len(self.foregrounds), count, replace)]

    def pick_background(self, rng: np.random.Generator) -> Background:
        return self.backgrounds[int(rng.integers(len(self.backgrounds)))]

    def pixels(self, source: ForegroundSource) -> tuple[np.ndarray, np.ndarray]:
        return load_foreground(source, self.long_side)


def _aspects(sources: Sources, picks: list[ForegroundSource]) -> list[float]:
    return [sources.pixels(p)[1].shape[1] / sources.pixels(p)[1].shape[0] for p in picks]


def _name(i: int) -> str:
    return f"{i:02d}"


def _layers(sources: Sources, picks, poses, recipe: Recipe, tracks=None):
    out = []
    for k, (src, pose) in enumerate(zip(picks, poses, strict=True)):
        col, alp = sources.pixels(src)
        amp, seed = (tracks[k].warp_amplitude, tracks[k].warp_seed) if tracks else (0.0, 0)
        out.append(render(col, alp, pose, recipe.width, recipe.height, amp, seed))
    return out


def _visible_enough(layers: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Every layer keeps MIN_VISIBLE of its alpha after occlusion (the last try is kept)."""
    cover = np.zeros_like(layers[0][1])
    for _, alp in reversed(layers):  # front to back
        own = float(alp.sum())
        if own <= 0 or float((alp * (1 - cover)).sum()) < MIN_VISIBLE * own:
            return False
        cover = cover + alp * (1 - cover)
    return True


def _write_sample(root: Path, name: str, image, visible, masks, ext: str, frame_dir: str) -> None:
    write_rgb(root / frame_dir / f"{name}.{ext}", image)
    for i in range(len(visible)):
        write_alpha(root / "alphas" / name / f"{_name(i)}.png", visible[i])
        write_mask(root / "masks" / name / f"{_name(i)}.png", masks[i])


def _still(sources: Sources, recipe: Recipe, kind: str, index: int) -> tuple[str, dict]:
    """One single or multi image: instances placed over a background, masks with faults."""
    rng = np.random.default_rng([recipe.seed, KINDS[kind], index])
    count = (
        1 if kind == "single" else int(rng.integers(recipe.min_instances, recipe.max_instances + 1))
    )
    picks = sources.pick_foregrounds(rng, count)
    bg = sources.pick_background(rng)
    layer_of = np.argsort(rng.permutation(count))  # instance i is layer layer_of[i]
    background = background_frame(
        bg, int(rng.integers(1 << 16)), recipe.width, recipe.height, tuple(rng.random(2))
    )
    for _ in range(MAX_PLACEMENT_TRIES):
        poses = spread_poses(rng, count, recipe.width, recipe.height, _aspects(sources, picks))
        if kind == "single":
            poses = [Pose(recipe.width / 2, recipe.height * 0.55, poses[0].height, poses[0].angle)]
        layers = _layers(sources, picks, poses, recipe)
        if _visible_enough(layers):
            break
    image, visible = composite(background, layers)
    visible = visible[layer_of]
    long_side = max(recipe.width, recipe.height)
    faults = [F.draw_faults(rng, recipe.faults, long_side) for _ in range(count)]
    masks = [F.rough_mask(visible[i], faults[i]) for i in range(count)]
    name = f"{kind}{index:04d}"
    record = {
        "name": name,
        "background": bg.name,
        "instances": {
            _name(i): {"foreground": picks[layer_of[i]].name, "faults": faults[i].as_dict()}
            for i in range(count)
        },
    }
    return name, {"image": image, "visible": visible, "masks": masks, "record": record}


def _clip(sources: Sources, recipe: Recipe, index: int, out: Path, log: Log) -> dict:
    rng = np.random.default_rng([recipe.seed, KINDS["clips"], index])
    count = int(rng.integers(recipe.min_instances, recipe.max_instances + 1))
    picks = sources.pick_foregrounds(rng, count)
    bg = sources.pick_background(rng)
    w, h, mo = recipe.width, recipe.height, recipe.motion
    starts = spread_poses(rng, count, w, h, _aspects(sources, picks))
    tracks = []
    for k, p in enumerate(starts):
        direction = 1.0 if p.cx < w / 2 else -1.0  # cross towards the other side
        end = Pose(
            cx=p.cx + direction * mo.travel * w * rng.uniform(0.5, 1.0),
            cy=p.cy + rng.uniform(-0.05, 0.05) * h,
            height=p.height * (1 + rng.uniform(-1, 1) * mo.scale_change),
            angle=p.angle + rng.uniform(-1, 1) * mo.rotation_deg,
        )
        tracks.append(Track(p, end, mo.warp * max(w, h), int(rng.integers(1 << 31)) + k))
    layer_of = np.argsort(rng.permutation(count))  # instance ids are not depth order
    start_frame = int(rng.integers(1 << 16))
    pan0, pan1 = rng.random(2), rng.random(2)
    pan1 = pan0 + (pan1 - pan0) * mo.camera_pan
    long_side = max(w, h)
    faults = [F.draw_faults(rng, recipe.faults, long_side) for _ in range(count)]
    swap = F.swap_frame(rng, recipe.faults.id_swap, recipe.frames, count)
    name = f"clip{index:04d}"
    root = out / "clips" / name
    for t in range(recipe.frames):
        u = t / (recipe.frames - 1)
        poses = [tr.at(u) for tr in tracks]
        n = max(1, len(bg.frames))
        frame_index = min(start_frame % max(1, n - recipe.frames + 1) + t, n - 1)
        background = background_frame(bg, frame_index, w, h, tuple(pan0 + (pan1 - pan0) * u))
        image, visible = composite(background, _layers(sources, picks, poses, recipe, tracks))
        visible = visible[layer_of]
        frame_rng = np.random.default_rng([recipe.seed, KINDS["clips"], index, t + 1])
        masks = [F.rough_mask(visible[i], faults[i], frame_rng) for i in range(count)]
        if swap and swap["frame"] == t:
            masks[swap["a"]], masks[swap["b"]] = masks[swap["b"]], masks[swap["a"]]
        _write_sample(root, f"{t:04d}", image, visible, masks, recipe.frame_format, "frames")
    log(f"synth: clips/{name} ({recipe.frames} frames, {count} instances)")
    return {
        "name": name,
        "background": bg.name,
        "id_swap": swap,
        "instances": {
            _name(i): {
                "foreground": picks[layer_of[i]].name,
                "track": {
                    "start": asdict(tracks[layer_of[i]].start),
                    "end": asdict(tracks[layer_of[i]].end),
                },
                "faults": faults[i].as_dict(),
            }
            for i in range(count)
        },
    }


def check_output(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise BadArgumentError(
            f"{out} is not empty; choose a new folder or pass --force to overwrite"
        )


def build_set(
    recipe: Recipe, out: str | Path, force: bool = False, log: Log = lambda _: None
) -> dict:
    """Write the set under ``out``; returns the manifest (also written as manifest.json)."""
    out = Path(out)
    check_output(out, force)
    cv2.setNumThreads(1)  # the same bytes on every machine: no thread-order effects
    sources = Sources(recipe)
    manifest: dict = {"single": [], "multi": [], "clips": []}
    for kind in ("single", "multi"):
        for index in range(getattr(recipe, kind)):
            name, s = _still(sources, recipe, kind, index)
            _write_sample(out / kind, name, s["image"], s["visible"], s["masks"], "png", "images")
            manifest[kind].append(s["record"])
        if getattr(recipe, kind):
            log(f"synth: {kind}/ ({getattr(recipe, kind)} images)")
    for index in range(recipe.clips):
        manifest["clips"].append(_clip(sources, recipe, index, out, log))
    manifest["backgrounds_used"] = sorted(
        {r["background"] for k in ("single", "multi", "clips") for r in manifest[k]}
    )
    (out / RECIPE_NAME).write_text(recipe_json(recipe))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
