"""results.json and the readable table: per-sample and mean metrics, and engine/baseline ratios.

Means: a sample's score is the mean over its instances; a method's score is the mean over
samples (IMQ likewise). Leakage: "leak max" is the largest per-instance leakage seen anywhere,
"leak mean" the mean over every instance that has another person's core beside it. Clips add
dtSSD and MESSDdt (mean over instances, then over clips). Ratios are engine / baseline, so below
1 means the engine has less error (for IMQ, above 1 means better).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vfxmatte import __version__
from vfxmatte.evaluation.against import against_lines
from vfxmatte.evaluation.dataset import Dataset
from vfxmatte.evaluation.methods import Method
from vfxmatte.evaluation.runner import EvalRun, metrics_keys

CONVENTIONS = {
    "alpha_range": "alphas in [0, 1]; whole image, no trimap restriction",
    "sad": "sum |p - g| / 1000",
    "mse": "mean (p - g)^2 x 1e3",
    "mad": "mean |p - g| x 1e3",
    "grad": "sum (|grad p| - |grad g|)^2 / 1000, L2-normalised Gaussian derivative, sigma 1.4",
    "conn": "connectivity error, threshold step 0.1, / 1000",
    "dtssd": "RVM: per frame pair sqrt(mean(((p_t-p_t-1)-(g_t-g_t-1))^2)) x 100, mean over pairs",
    "messddt": "DVM: Farneback flow t-1 -> t of the true alpha, e = (p - g)^2, "
    "sum |e_t-1 warped (x - flow) - e_t| / pixels x 10, mean over pairs",
    "imq": "InstMatt: Hungarian on IoU(alpha >= 0.5), TP at IoU >= 0.5, s = 1 - min(10 err, 1) "
    "on the pair's union (alpha > 0), IMQ = sum s / (TP + FP/2 + FN/2); err = MAD or MSE",
    "leak": "mean predicted alpha_i over pixels where another instance's true alpha >= 0.99, x 1e3",
    "strands": "share of the truth's strand alpha (soft, > 2 px from its solid part) brought back, "
    "sum min(p, g) / sum g there; mean over the instances that have strands",
    "rough_mask_mad": "MAD of the rough mask itself against the truth, x 1e3",
    "sample_mean": "mean over the sample's instances; dataset mean = mean over samples",
}

SUMMARY_COLUMNS = (
    ("sad", "SAD"),
    ("mse", "MSE"),
    ("mad", "MAD"),
    ("grad", "Grad"),
    ("conn", "Conn"),
    ("imq_mad", "IMQ(mad)"),
    ("imq_mse", "IMQ(mse)"),
    ("leak_max", "leak max"),
    ("leak_mean", "leak mean"),
    ("strands", "strands"),
    ("dtssd", "dtSSD"),
    ("messddt", "MESSDdt"),
    ("seconds", "s/sample"),
)
HIGHER_IS_BETTER = {"imq_mad", "imq_mse", "strands"}


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarise(run: EvalRun, methods: list[Method]) -> dict[str, dict]:
    summary: dict[str, dict] = {}
    for m in methods:
        rows = [s["methods"][m.name] for s in run.samples]
        entry: dict[str, float | None] = {
            k: _mean([r["mean"][k] for r in rows]) for k in metrics_keys()
        }
        entry["imq_mad"] = _mean([r["imq_mad"]["imq"] for r in rows])
        entry["imq_mse"] = _mean([r["imq_mse"]["imq"] for r in rows])
        leaks = [r["leak_max"] for r in rows if r["leak_max"] is not None]
        entry["leak_max"] = max(leaks) if leaks else None
        entry["leak_mean"] = _mean(
            [i["leak"] for r in rows for i in r["instances"].values() if i["leak"] is not None]
        )
        entry["strands"] = _mean([i.get("strands") for r in rows for i in r["instances"].values()])
        clip_scores = [c[m.name] for c in run.clips.values() if m.name in c]
        entry["dtssd"] = _mean([c["dtssd"] for c in clip_scores])
        entry["messddt"] = _mean([c["messddt"] for c in clip_scores])
        entry["seconds"] = _mean([r["seconds"] for r in rows])
        summary[m.name] = entry
    return summary


def ratios(summary: dict[str, dict], methods: list[Method]) -> dict[str, dict]:
    engines = [m.name for m in methods if m.kind == "engine"]
    baselines = [m.name for m in methods if m.kind == "baseline"]
    out: dict[str, dict] = {}
    for e in engines:
        for b in baselines:
            r = {}
            for key, _ in SUMMARY_COLUMNS:
                ev, bv = summary[e].get(key), summary[b].get(key)
                if ev is None or not bv or (key == "seconds" and bv < 0.1):
                    continue  # no ratio against ~0 (the mask baseline costs nothing)
                r[key] = ev / bv
            out[f"{e}/{b}"] = r
    return out


def build_results(
    run: EvalRun,
    dataset: Dataset,
    methods: list[Method],
    guidance: str,
    device: str,
    notes: list[str],
) -> dict:
    summary = summarise(run, methods)
    rough = _mean([_mean(list(s["rough_mask_mad"].values())) for s in run.samples])
    return {
        "vfxmatte_version": __version__,
        "dataset": str(dataset.root.resolve()),
        "kind": dataset.kind,
        "guidance": guidance,
        "device": device,
        "methods": [{"name": m.name, "kind": m.kind} for m in methods],
        "samples_count": len(run.samples),
        "ignored_folders": dataset.ignored,
        "conventions": CONVENTIONS,
        "notes": notes,
        "rough_mask_mad": rough,
        "summary": summary,
        "ratios": ratios(summary, methods),
        "clips": run.clips,
        "samples": run.samples,
    }


def _fmt(v: float | None, key: str = "") -> str:
    if v is None:
        return "-"
    if key.startswith("imq") or key == "strands":
        return f"{v:.3f}"
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def summary_table(results: dict) -> str:
    columns = [
        (k, label)
        for k, label in SUMMARY_COLUMNS
        if any(v.get(k) is not None for v in results["summary"].values())
    ]
    header = ["method"] + [label for _, label in columns]
    rows = [
        [name] + [_fmt(values.get(k), k) for k, _ in columns]
        for name, values in results["summary"].items()
    ]
    for pair, values in results["ratios"].items():
        rows.append([f"ratio {pair}"] + [_ratio(values.get(k)) for k, _ in columns])
    return _table(header, rows)


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def sample_table(results: dict) -> str:
    header = ["sample", "method", "SAD", "MSE", "MAD", "Grad", "Conn", "IMQ(mad)", "leak max", "s"]
    rows = []
    for s in results["samples"]:
        for name, r in s["methods"].items():
            m = r["mean"]
            rows.append(
                [s["key"], name]
                + [_fmt(m[k]) for k in metrics_keys()]
                + [_fmt(r["imq_mad"]["imq"], "imq"), _fmt(r["leak_max"]), f"{r['seconds']:.2f}"]
            )
    return _table(header, rows)


def instance_table(results: dict) -> str:
    header = ["sample", "instance", "rough MAD", "method", "SAD", "MAD", "Grad", "Conn", "leak"]
    rows = []
    for s in results["samples"]:
        for inst in s["instances"]:
            for name, r in s["methods"].items():
                v = r["instances"][inst]
                rows.append(
                    [s["key"], inst, _fmt(s["rough_mask_mad"][inst]), name]
                    + [_fmt(v[k]) for k in ("sad", "mad", "grad", "conn", "leak")]
                )
    return _table(header, rows)


def clip_table(results: dict) -> str:
    header = ["clip", "method", "dtSSD", "MESSDdt"]
    rows = [
        [clip, name, _fmt(v["dtssd"]), _fmt(v["messddt"])]
        for clip, per in results["clips"].items()
        for name, v in per.items()
    ]
    return _table(header, rows) if rows else ""


def render(results: dict, per_sample: bool = True) -> str:
    """The readable report (Markdown tables) printed by `vfxmatte eval`."""
    parts = [
        f"vfxmatte eval: {results['dataset']} ({results['kind']}, {results['samples_count']} "
        f"samples, guidance {results['guidance']}, device {results['device']})",
        f"rough-mask MAD (x1e3): {_fmt(results['rough_mask_mad'])}",
        "",
        summary_table(results),
    ]
    if results["clips"]:
        parts += ["", clip_table(results)]
    if results.get("against"):
        parts += ["", *against_lines(results["against"])]
    if per_sample:
        parts += ["", sample_table(results)]
    parts += ["", *(f"note: {n}" for n in results["notes"])]
    return "\n".join(parts).rstrip() + "\n"


def write_results(out: Path, results: dict) -> tuple[Path, Path]:
    """results.json (everything) and results.md (all tables, per instance included)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "results.json"
    json_path.write_text(json.dumps(results, indent=2))
    md_path = out / "results.md"
    md_path.write_text(
        render(results) + "\n## Per instance\n\n" + instance_table(results) + "\n"
        "\n## Conventions\n\n"
        + "\n".join(f"- {k}: {v}" for k, v in results["conventions"].items())
        + "\n"
    )
    return json_path, md_path
