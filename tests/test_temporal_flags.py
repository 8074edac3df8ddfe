"""Where the temporal smoother overrode the engine, a compositor is told: the progress line, the
EXR header (per layer), the farm summary and the review panel's stability report (issue 15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import run_cli
from review_data import make_moving_disc_result

from vfxmatte.demo import make_demo_shot
from vfxmatte.farm.summary import FarmSummary, ShotOutcome, smooth_flags
from vfxmatte.io.images import Window, read_image, write_exr
from vfxmatte.refine.temporal import (
    LARGE_ATTRIBUTE,
    LARGE_OVERRIDE,
    OVERRIDE_ATTRIBUTE,
    format_overrides,
    large_overrides,
    parse_overrides,
)
from vfxmatte.review.model import FrameSource, ProxyCache, ResultFolder, open_plate_view
from vfxmatte.review.stability import analyse


def _header(path: Path, name: str) -> str:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, path
    try:
        return str(inp.spec().getattribute(name) or "")
    finally:
        inp.close()


def _set_override(path: Path, overrides: dict[str, float]) -> None:
    """Rewrite a result frame with the header the pipeline writes (pixels unchanged)."""
    img = read_image(path)
    window = Window(0, 0, img.channel("A").shape[1], img.channel("A").shape[0])
    attrs = {k: v for k, _t, v in img.metadata if isinstance(v, str) and k.startswith("vfxmatte")}
    attrs[OVERRIDE_ATTRIBUTE] = format_overrides(overrides)
    channels = {c: img.channel(c) for c in img.channels}
    write_exr(path, channels, window, window, extra_attributes=attrs)


def test_override_text_round_trips_and_names_the_large_layers():
    values = {"person01": 0.0123, "person02": LARGE_OVERRIDE + 0.05}
    text = format_overrides(values)
    assert parse_overrides(text) == pytest.approx(values, abs=1e-4)
    assert large_overrides(parse_overrides(text)) == ["person02"]
    assert parse_overrides("") == {} and parse_overrides("junk,a=b") == {}


def test_run_writes_override_per_layer_in_header_and_progress_line(tmp_path):
    shot = make_demo_shot(tmp_path / "shot", frames=4, width=128, height=72)
    args = ["run", "--plate", shot.plate, "--out", str(tmp_path / "o" / "m.####.exr")]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    proc = run_cli(*args, "--device", "cpu", "--threads", "1", "--progress-lines")
    assert proc.returncode == 0, proc.stderr
    frame_lines = [ln for ln in proc.stdout.splitlines() if "event=frame" in ln]
    assert len(frame_lines) == 4
    for line in frame_lines:
        assert "smooth_override person01=" in line and "person02=" in line
    for f in range(1001, 1005):
        path = tmp_path / "o" / f"m.{f}.exr"
        values = parse_overrides(_header(path, OVERRIDE_ATTRIBUTE))
        assert sorted(values) == ["person01", "person02"]
        assert all(0.0 <= v < 1.0 for v in values.values())
        assert _header(path, LARGE_ATTRIBUTE) == ",".join(large_overrides(values))


@pytest.fixture
def disc(tmp_path) -> Path:
    return make_moving_disc_result(tmp_path, frames=4, flicker_frame=None)


def test_farm_summary_lists_frames_the_smoother_overrode(disc):
    _set_override(disc / "matte.1002.exr", {"person01": 0.01})
    _set_override(disc / "matte.1003.exr", {"person01": 0.21})
    out = str(disc / "matte.####.exr")
    flags = smooth_flags(out, [1001, 1002, 1003, 1004, 1005])  # 1005 missing: left out
    assert flags == {1003: pytest.approx({"person01": 0.21})}
    outcome = ShotOutcome("sh010", [1001, 1002, 1003, 1004], written={1001, 1002, 1003, 1004})
    outcome.smooth_flags = flags
    lines = FarmSummary([outcome]).lines()
    assert any("smoother overrode" in ln and "1003(person01:0.210)" in ln for ln in lines)
    quiet = FarmSummary([ShotOutcome("sh020", [1], written={1})]).lines()
    assert not any("smoother" in ln for ln in quiet)


def test_stability_report_flags_a_large_override(disc):
    _set_override(disc / "matte.1002.exr", {"person01": 0.02})
    _set_override(disc / "matte.1003.exr", {"person01": 0.3})
    r = ResultFolder(disc)
    report = analyse(FrameSource(r, open_plate_view(r), ProxyCache()))
    assert report.overrides["person01"][:3] == [None, pytest.approx(0.02), pytest.approx(0.3)]
    assert any("smoother override" in s for s in report.flags[1003]["person01"])
    assert 1002 not in report.flags and np.isfinite(report.changes["person01"][2])
