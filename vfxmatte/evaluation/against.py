"""Clip scores of one eval run against a reference run of the same clips (``--against``).

Why: issue 15's rules for temporal smoothing are relative to the *unsmoothed* run of the same
engine on the same clip: dtSSD lower by a margin, per-instance MAD lower on every clip, and no
single frame's MAD more than 5% above that frame's unsmoothed MAD. Scoring the two runs by the
same project command (``vfxmatte eval CLIP --temporal-strength 0`` for the reference, then the
run under test with ``--against REF/results.json``) keeps those figures reproducible.

Everything is read from the two ``results.json`` files: per-frame, per-instance MAD from their
samples and dtSSD from their clip summaries. Frames are matched by sample key, methods by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vfxmatte.errors import BadArgumentError, MissingInputError


def load_reference(path: str | Path) -> dict:
    """A reference ``results.json`` (a file or the --out folder that holds one), checked."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise MissingInputError(
            f"--against {path}: no such results.json; run `vfxmatte eval` for the reference first"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadArgumentError(f"--against {path}: not a readable results.json ({exc})") from exc
    if not isinstance(data, dict) or "samples" not in data or "clips" not in data:
        raise BadArgumentError(f"--against {path}: not a `vfxmatte eval` results.json")
    data["path"] = str(path.resolve())
    return data


def _frame_mads(results: dict, method: str) -> dict[str, dict[str, dict[str, float]]]:
    """clip -> sample key -> instance -> MAD, for ``method``."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for sample in results["samples"]:
        scores = sample["methods"].get(method)
        if sample.get("clip") is None or scores is None:
            continue
        per = {name: v["mad"] for name, v in scores["instances"].items()}
        out.setdefault(str(sample["clip"]), {})[sample["key"]] = per
    return out


def _ratio(value: float, ref: float) -> float:
    """value / ref, with an error-free reference frame counting as equal only when still 0."""
    if ref > 0:
        return value / ref
    return 1.0 if value <= 0 else float("inf")


def compare_clip(
    cur: dict[str, dict[str, float]], ref: dict[str, dict[str, float]], dtssd: tuple
) -> dict | None:
    """One clip, one method: the frames both runs scored (None when they share none)."""
    keys = [k for k in cur if k in ref and set(cur[k]) == set(ref[k])]
    if not keys:
        return None
    names = list(cur[keys[0]])
    frame_cur = np.array([np.mean([cur[k][n] for n in names]) for k in keys])
    frame_ref = np.array([np.mean([ref[k][n] for n in names]) for k in keys])
    frame_ratio = [_ratio(c, r) for c, r in zip(frame_cur, frame_ref, strict=True)]
    inst_ratio = [_ratio(cur[k][n], ref[k][n]) for k in keys for n in names]
    worst = int(np.argmax(frame_ratio))
    dt_ref, dt_cur = dtssd
    return {
        "frames": len(keys),
        "dtssd": [dt_ref, dt_cur],
        "dtssd_change": None if not dt_ref or dt_cur is None else dt_cur / dt_ref - 1.0,
        "mad": {
            n: [
                float(np.mean([ref[k][n] for k in keys])),
                float(np.mean([cur[k][n] for k in keys])),
            ]
            for n in names
        },
        "worst_frame_mad_ratio": float(frame_ratio[worst]),
        "worst_frame": keys[worst],
        "worst_instance_frame_mad_ratio": float(max(inst_ratio)),
    }


def compare_runs(current: dict, reference: dict) -> dict:
    """Per method present in both runs, per clip: dtSSD, per-instance MAD (mean over the clip's
    frames) and the worst frame's MAD ratio, reference -> current; plus an ``all`` verdict."""
    methods = [m["name"] for m in current["methods"]]
    ref_methods = {m["name"] for m in reference.get("methods", [])}
    out: dict[str, dict] = {}
    for method in (m for m in methods if m in ref_methods):
        cur_mads, ref_mads = _frame_mads(current, method), _frame_mads(reference, method)
        clips = {}
        for clip, frames in cur_mads.items():
            dt = (
                reference["clips"].get(clip, {}).get(method, {}).get("dtssd"),
                current["clips"].get(clip, {}).get(method, {}).get("dtssd"),
            )
            row = compare_clip(frames, ref_mads.get(clip, {}), dt)
            if row is not None:
                clips[clip] = row
        if clips:
            out[method] = {"clips": clips, "all": _verdict(list(clips.values()))}
    return {"reference": reference.get("path"), "methods": out}


def _verdict(rows: list[dict]) -> dict:
    """Mean and worst of the clip rows, and whether issue 15's MAD rules hold on all of them."""
    changes = [r["dtssd_change"] for r in rows if r["dtssd_change"] is not None]
    return {
        "dtssd_change_mean": float(np.mean(changes)) if changes else None,
        "dtssd_change_worst": float(max(changes)) if changes else None,
        "mad_lower_every_instance": all(c <= r for row in rows for r, c in row["mad"].values()),
        "worst_frame_mad_ratio": max(r["worst_frame_mad_ratio"] for r in rows),
        "worst_instance_frame_mad_ratio": max(r["worst_instance_frame_mad_ratio"] for r in rows),
    }


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:+.1f}%"


def against_lines(against: dict) -> list[str]:
    """Markdown table rows of :func:`compare_runs` (printed by `vfxmatte eval --against`)."""
    lines = [
        f"against {against['reference']} (reference -> this run)",
        "",
        "| clip | method | dtSSD | per-instance MAD | worst frame MAD ratio (frame) "
        "| worst instance-frame |",
        "|---|---|---|---|---|---|",
    ]
    for method, entry in against["methods"].items():
        for clip, r in entry["clips"].items():
            ref, cur = r["dtssd"]
            dt = "-" if ref is None or cur is None else f"{ref:.2f} -> {cur:.2f}"
            mad = ", ".join(f"{n} {a:.2f} -> {b:.2f}" for n, (a, b) in r["mad"].items())
            lines.append(
                f"| {clip} | {method} | {dt} ({_pct(r['dtssd_change'])}) | {mad} "
                f"| {r['worst_frame_mad_ratio']:.3f} ({r['worst_frame']}) "
                f"| {r['worst_instance_frame_mad_ratio']:.3f} |"
            )
        v = entry["all"]
        lines.append(
            f"| all | {method} | mean {_pct(v['dtssd_change_mean'])}, worst "
            f"{_pct(v['dtssd_change_worst'])} | lower on every instance: "
            f"{'yes' if v['mad_lower_every_instance'] else 'NO'} "
            f"| {v['worst_frame_mad_ratio']:.3f} | {v['worst_instance_frame_mad_ratio']:.3f} |"
        )
    return lines
