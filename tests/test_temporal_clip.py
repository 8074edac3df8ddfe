"""Temporal smoothing on the real composited clip, at quarter resolution.

Issue 5 asks for dtSSD at least 30% lower with smoothing, mean per-instance MAD no more than 5%
higher. With the placeholder guided engine smoothing gave -32.7%; with the real guided engine
(whose raw output already flickers less: dtSSD 4.69 instead of 7.2) it gives -17.1%
bidirectional, -15.2% causal, MAD -2.6% (docs/benchmarks.md, "Video"). The 30% target is NOT
met and the issue stays open; this test guards what is measured: at least 10% less flicker
and no more than 5% worse MAD.
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
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "eval_temporal_clip.py"), str(clip),
         "--scale", "0.25", "--strengths", "0,0.6", "--json", str(report)],
        cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    off, on = json.loads(report.read_text())["results"]
    assert on["dtSSD"] <= 0.9 * off["dtSSD"], (off, on)
    assert on["MAD"] <= 1.05 * off["MAD"], (off, on)
