"""Temporal smoothing on the real composited clip, at its own resolution (1920x1080).

Issue 5 asks for dtSSD at least 30% lower with smoothing, mean per-instance MAD no more than 5%
higher. With the guided engine and the windowed, band-split smoother at its default strength
(0.9) the clip gives -31.6% bidirectional (the whole shot at hand, as in evaluation) and -26.8%
causal (what `vfxmatte run` writes frame by frame), MAD -13.9% / -12.5% (docs/benchmarks.md,
"Video"). So the target is met bidirectionally and not causally; this test asserts exactly
that split, with about one point of margin: at least 30% less flicker bidirectional, 25%
causal, and no more than 5% worse MAD. (Downscaled runs flicker less to begin with and gain
less: quarter resolution gives -24.9% bidirectional, so the test runs at full size, ~3 min.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, cli_env


@pytest.mark.integration
def test_smoothing_cuts_flicker_without_hurting_accuracy(shared_data, tmp_path):
    clip = shared_data / "dev-sets" / "clips" / "clip_GT04_GT23"
    if not clip.is_dir():
        pytest.skip(f"{clip} not found")
    cache = tmp_path / "raw.npz"  # the engine runs once; the causal pass reuses its alphas
    results = {}
    for mode, extra in (("bidirectional", []), ("causal", ["--causal"])):
        report = tmp_path / f"{mode}.json"
        proc = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "eval_temporal_clip.py"), str(clip),
             "--scale", "1", "--strengths", "0,0.9", "--cache", str(cache),
             "--json", str(report), *extra],
            cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=1500,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        results[mode] = json.loads(report.read_text())["results"]
    for mode, bound in (("bidirectional", 0.70), ("causal", 0.75)):
        off, on = results[mode]
        assert on["dtSSD"] <= bound * off["dtSSD"], (mode, off, on)
        assert on["MAD"] <= 1.05 * off["MAD"], (mode, off, on)
