"""Compare two ``vfxmatte eval`` runs per instance on the frames a finetune did not see.

The per-shot recipe is scored on every frame except the fixed ones it learned from; ``vfxmatte
eval`` scores every frame, so this reads two of its ``results.json`` files (e.g. guided and
maggie on the same clip), drops the excluded frames and prints each instance's mean MAD for both
and their ratio::

    python -m vfxmatte.training.shot_report GUIDED/results.json MAGGIE/results.json --exclude 0,12,23
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _frame(key: str) -> int:
    """``clip/0012`` -> 12."""
    return int(key.rsplit("/", 1)[-1])


def per_instance_mad(results: dict, exclude: set[int]) -> tuple[dict[str, float], int]:
    """{instance: mean MAD over the kept frames} for the run's one method, and the frame count."""
    sums: dict[str, list[float]] = {}
    kept = 0
    for sample in results["samples"]:
        if _frame(sample["key"]) in exclude:
            continue
        kept += 1
        (scores,) = [s for name, s in sample["methods"].items() if name not in ("mask",)][:1]
        for inst, m in scores["instances"].items():
            sums.setdefault(inst, []).append(m["mad"])
    return {k: sum(v) / len(v) for k, v in sums.items()}, kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="results.json of the reference (guided)")
    parser.add_argument("candidate", type=Path, help="results.json of the candidate (maggie)")
    parser.add_argument("--exclude", default="", help="Frame numbers to leave out, e.g. 0,12,23")
    args = parser.parse_args(argv)
    exclude = {int(f) for f in args.exclude.split(",") if f}
    ref, n_ref = per_instance_mad(json.loads(args.reference.read_text()), exclude)
    cand, n_cand = per_instance_mad(json.loads(args.candidate.read_text()), exclude)
    print(f"frames kept: reference {n_ref}, candidate {n_cand} (excluded {sorted(exclude)})")
    print("| instance | reference MAD | candidate MAD | ratio |")
    print("|---|---|---|---|")
    for inst in sorted(ref):
        r, c = ref[inst], cand.get(inst, float("nan"))
        print(f"| {inst} | {r:.3f} | {c:.3f} | {c / r:.2f}x |")


if __name__ == "__main__":
    main()
