"""The review panel's Qt-free parts: result discovery, proxy cache, review JSON, stability, views."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from review_data import cached_pipeline_result, copy_result, make_moving_disc_result

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError
from vfxmatte.io.images import Window, write_exr
from vfxmatte.review import compose
from vfxmatte.review.compose import Background, ViewMode
from vfxmatte.review.model import (
    APPROVED,
    FLAGGED,
    FrameSource,
    ProxyCache,
    ResultFolder,
    ReviewStore,
    find_exr_sequence,
    open_plate_view,
    people_in_channels,
    proxy_size,
)
from vfxmatte.review.rerun import base_spec, next_rerun_folder, parse_options, rerun_spec
from vfxmatte.review.stability import alpha_change, analyse


@pytest.fixture(scope="module")
def piped(tmp_path_factory):
    return cached_pipeline_result(tmp_path_factory)


@pytest.fixture(scope="module")
def disc(tmp_path_factory) -> Path:
    return make_moving_disc_result(tmp_path_factory.mktemp("disc"))


def test_pipeline_result_is_discovered_with_people_plate_and_engine(piped):
    r = ResultFolder(piped.out)
    assert r.frames == [1001, 1002, 1003, 1004]
    assert r.people == ["person01", "person02"]
    assert r.plate_pattern == piped.shot.plate  # from the vfxmatte:plate attribute
    assert r.engine == "guided"
    assert (r.display_window.width, r.display_window.height) == (160, 90)
    assert r.problems == []
    # a file of the sequence and the pattern itself find the same sequence
    assert find_exr_sequence(piped.out / "matte.1002.exr").pattern == r.sequence.pattern
    assert find_exr_sequence(r.sequence.pattern).pattern == r.sequence.pattern


def test_plate_override_wins_over_metadata(piped):
    r = ResultFolder(piped.out, plate="/elsewhere/plate.####.exr")
    assert r.plate_pattern == "/elsewhere/plate.####.exr"
    assert open_plate_view(r) is None
    assert any("not found" in p for p in r.problems)


def test_folder_picks_the_longest_sequence_and_ignores_temps(tmp_path):
    w = Window(0, 0, 8, 8)
    a = np.ones((8, 8), np.float32)
    for f in (1, 2, 3):
        write_exr(tmp_path / f"matte.{f:04d}.exr", {"A": a, "p.A": a}, w, w)
    write_exr(tmp_path / "other.0001.exr", {"A": a, "p.A": a}, w, w)
    (tmp_path / ".matte.0004.vfxtmp123.exr").write_bytes(b"partial")
    seq = find_exr_sequence(tmp_path)
    assert Path(seq.pattern).name == "matte.####.exr"
    assert ResultFolder(tmp_path).frames == [1, 2, 3]


def test_people_order_follows_the_writer():
    chans = ["A", "zed.A", "amy.A", "amy.R", "R"]
    assert people_in_channels(chans, "zed,amy") == ["zed", "amy"]
    assert people_in_channels(chans) == ["amy", "zed"]


def test_empty_folder_and_missing_folder_are_one_line_errors(tmp_path):
    with pytest.raises(MissingInputError, match="no numbered EXR"):
        ResultFolder(tmp_path)
    with pytest.raises(MissingInputError, match="does not exist"):
        ResultFolder(tmp_path / "nope")


def test_no_person_layers_is_reported(tmp_path):
    w = Window(0, 0, 8, 8)
    write_exr(tmp_path / "beauty.0001.exr", {"R": np.zeros((8, 8)), "A": np.ones((8, 8))}, w, w)
    with pytest.raises(InvalidInputError, match="no person layers"):
        ResultFolder(tmp_path)


def test_missing_and_corrupt_frames_become_problems_not_crashes(piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    (folder / "matte.1002.exr").unlink()
    (folder / "matte.1001.exr").write_bytes(b"not an exr at all")
    (folder / "matte.1003.exr").write_bytes(b"not an exr either")
    r = ResultFolder(folder)  # headers are read lazily: only up to the first good frame
    assert r.missing == [1002]
    assert r.unreadable == {1001, 1003}
    text = " ".join(r.problems)
    assert "1002" in text and "missing" in text and "1001" in text
    assert r.people == ["person01", "person02"]  # described by 1004, the first readable frame
    src = FrameSource(r, None, ProxyCache())
    with pytest.raises(InvalidInputError, match="result frame 1003"):
        src.images(1003)
    report = analyse(src)  # the analysis finds every unreadable frame and goes on
    assert report.flags[1003]["person01"] == ["unreadable"]
    assert report.flags[1001]["person01"] == ["unreadable"]
    assert report.flags[1002]["person01"] == ["missing"]
    assert report.areas["person01"][3] is not None


def test_truncated_exr_raises_on_read(piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    path = folder / "matte.1004.exr"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    r = ResultFolder(folder)
    with pytest.raises(InvalidInputError, match="1004"):
        r.read(1004)


def test_proxy_cache_serves_repeats_and_invalidates_rewritten_frames(piped, tmp_path):
    r = ResultFolder(piped.out)
    cache = ProxyCache()
    src = FrameSource(r, open_plate_view(r), cache, proxy_long_side=80)
    first = src.images(1001)
    assert first.alphas.shape == (2, 45, 80) and first.plate.shape == (45, 80, 3)
    assert first.scale == pytest.approx(2.0)
    assert src.images(1001) is first and cache.hits == 1
    full = src.images(1001, full=True)
    assert full.scale == 1.0 and full.alphas.shape == (2, 90, 160)
    # full-res alphas are the file's values (half precision)
    want = r.read(1001).alphas
    np.testing.assert_allclose(full.alphas.astype(np.float32), want, atol=1e-3)
    # a re-rendered frame (new mtime) is not served from the cache
    folder = copy_result(piped.out, tmp_path / "copy")
    r2 = ResultFolder(folder)
    src2 = FrameSource(r2, None, cache, proxy_long_side=80)
    one = src2.images(1002)
    st = (folder / "matte.1002.exr").stat()
    os.utime(folder / "matte.1002.exr", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert src2.images(1002) is not one


def test_memory_cache_is_bounded():
    from vfxmatte.review.model import FrameImages

    cache = ProxyCache(max_bytes=3 * 100 * 100 * 2)
    for f in range(6):
        cache.put(str(f), FrameImages(f, np.zeros((1, 100, 100), np.float16), None, 1.0))
    assert len(cache) == 3 and cache.get("0") is None and cache.get("5") is not None


def test_disk_cache_survives_a_new_session(piped, tmp_path):
    r = ResultFolder(piped.out)
    src = FrameSource(r, open_plate_view(r), ProxyCache(disk_folder=tmp_path / "c"), 80)
    a = src.images(1003)
    fresh = ProxyCache(disk_folder=tmp_path / "c")
    b = FrameSource(r, open_plate_view(r), fresh, 80).images(1003)
    assert fresh.disk_hits == 1
    np.testing.assert_array_equal(a.alphas, b.alphas)
    np.testing.assert_array_equal(a.plate, b.plate)


def test_proxy_size_keeps_aspect():
    assert proxy_size(4096, 2160, 1280) == (1280, 675)
    assert proxy_size(640, 360, 1280) == (640, 360)


def test_review_json_round_trip(piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    r = ResultFolder(folder)
    store = ReviewStore.beside(r)
    store.set(1002, "person01", FLAGGED, "hair boils")
    store.set(1002, "person02", APPROVED)
    store.set(1004, "person02", FLAGGED, "hole in hand")
    path = store.save()
    assert path == folder / "review.json"
    data = json.loads(path.read_text())
    assert data["frames"]["1002"]["person01"]["status"] == "flagged"
    again = ReviewStore.beside(ResultFolder(folder))
    assert again.get(1002, "person01").note == "hair boils"
    assert again.get(1002, "person02").status == APPROVED
    assert again.flagged_frames() == [1002, 1004]
    again.clear(1004, "person02")
    assert again.flagged_frames() == [1002]
    with pytest.raises(ValueError):
        again.set(1001, "person01", "maybe")


def test_broken_review_json_is_a_clear_error(tmp_path):
    (tmp_path / "review.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="review.json"):
        ReviewStore(tmp_path / "review.json")


def test_alpha_change_measure():
    a = np.zeros((10, 10), np.float32)
    a[2:5, 2:5] = 1
    b = np.zeros_like(a)
    b[6:9, 6:9] = 1
    assert alpha_change(a, a) == 0.0
    assert alpha_change(a, b) == pytest.approx(1.0)
    assert alpha_change(np.zeros_like(a), np.zeros_like(a)) == 0.0


def test_flow_compensation_removes_motion_and_keeps_flicker(disc):
    r = ResultFolder(disc)
    with_flow = analyse(FrameSource(r, open_plate_view(r), ProxyCache()))
    raw = analyse(FrameSource(r, None, ProxyCache()))
    assert with_flow.flow_compensated and not raw.flow_compensated
    c, c_raw = with_flow.changes["person01"], raw.changes["person01"]
    assert c[0] is None
    # steady motion: raw difference is large, the flow-aligned one is near zero
    assert c_raw[1] > 0.05 and c[1] < 0.01
    # the hole on 1004 (index 3) stands out and is flagged as a spike
    assert c[3] > 5 * max(c[1], c[2], 1e-3)
    assert 1004 in with_flow.flags and any("change" in s for s in with_flow.flags[1004]["person01"])
    assert 1002 not in with_flow.flags


def test_empty_matte_is_flagged(tmp_path):
    out = make_moving_disc_result(tmp_path, frames=3, flicker_frame=None, empty_frame=1002)
    r = ResultFolder(out)
    report = analyse(FrameSource(r, open_plate_view(r), ProxyCache()))
    assert "empty matte" in report.flags[1002]["person01"]


def test_view_modes_and_wipe(piped):
    r = ResultFolder(piped.out)
    img = FrameSource(r, open_plate_view(r), ProxyCache()).images(1001)
    overlay = compose.render(img, ViewMode.OVERLAY, None)
    plate = compose.render(img, ViewMode.PLATE, None)
    alpha = compose.render(img, ViewMode.ALPHA, 0, Background.BLACK)
    assert overlay.shape == plate.shape == alpha.shape == (90, 160, 3)
    inside = img.alphas[0].astype(np.float32) > 0.9
    outside = img.alphas.astype(np.float32).sum(0) < 0.5 / 255  # renders as 0 in 8 bits
    # overlay changes the plate only where people are
    assert np.abs(overlay.astype(int) - plate.astype(int))[inside].mean() > 10
    assert np.abs(overlay.astype(int) - plate.astype(int))[outside].max() <= 1
    # alpha over black: black outside, bright inside
    assert alpha[outside].max() == 0 and alpha[inside].mean() > 100
    checker = compose.render(img, ViewMode.ALPHA, 0, Background.CHECKER)
    # two checker greys where alpha is clear (0.35 grey is 89.25 in 8 bits: an alpha of
    # 0.0015, which still renders as 0 over black, already rounds it up to 90)
    clear = img.alphas.astype(np.float32).sum(0) < 1e-3
    assert len(np.unique(checker[clear][:, 0])) == 2
    w = compose.wipe(plate, alpha, 0.5)
    np.testing.assert_array_equal(w[:, :70], plate[:, :70])
    np.testing.assert_array_equal(w[:, 90:], alpha[:, 90:])


def test_rerun_spec_from_masks(piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    r = ResultFolder(folder)
    recorded = base_spec(r)  # the EXRs record the masks they were made with
    assert recorded is not None
    assert recorded.masks == {k: str(Path(v).absolute()) for k, v in piped.shot.masks.items()}
    base = base_spec(r, masks=piped.shot.masks)
    assert base.plate == piped.shot.plate and base.engine == "guided"
    out = next_rerun_folder(r)
    assert out.name == "res_rerun01"
    spec = rerun_spec(base, r, [1002, 1003], "guided", {"search_k": 0.5}, out)
    assert spec.frames == "1002-1003" and spec.out.endswith("res_rerun01/matte.####.exr")
    assert spec.engine_options["search_k"] == 0.5
    with pytest.raises(BadArgumentError, match="valid keys"):
        rerun_spec(base, r, [1002], "guided", {"band": 0.02}, out)
    out.mkdir()
    assert next_rerun_folder(r).name == "res_rerun02"
    with pytest.raises(BadArgumentError):
        rerun_spec(base, r, [], "guided", {}, out)


def test_parse_options():
    assert parse_options("band=0.02, eps=1e-4 iters=3 fast=true name=x") == {
        "band": 0.02,
        "eps": 1e-4,
        "iters": 3,
        "fast": True,
        "name": "x",
    }
    with pytest.raises(BadArgumentError):
        parse_options("band")


def test_pipeline_writes_the_plate_attribute(piped):
    spec = oiio.ImageInput.open(str(piped.out / "matte.1001.exr")).spec()
    assert spec.get_string_attribute("vfxmatte:plate") == piped.shot.plate


def test_mask_states_recorded_at_render_time_are_flagged(tmp_path):
    w = Window(0, 0, 32, 32)
    a = np.zeros((32, 32), np.float32)
    a[8:24, 8:24] = 1
    for frame, state in ((1, "ok"), (2, "missing"), (3, "ok")):
        alpha = a if state == "ok" else np.zeros_like(a)
        write_exr(
            tmp_path / f"matte.{frame:04d}.exr",
            {"A": alpha, "hero.A": alpha},
            w,
            w,
            extra_attributes={"vfxmatte:mask_states": f"hero={state}"},
        )
    r = ResultFolder(tmp_path)
    assert r.read(2).mask_states == {"hero": "missing"}
    report = analyse(FrameSource(r, None, ProxyCache()))
    assert report.flags[2]["hero"] == ["mask missing", "empty matte"]
    assert 1 not in report.flags


@pytest.mark.integration
def test_4k_result_gets_a_proxy_and_full_resolution_on_demand(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from bench_review import write_results

    from vfxmatte.demo import make_demo_shot

    shot = make_demo_shot(tmp_path / "shot", frames=2, width=3840, height=2160)
    write_results(shot, tmp_path / "results")
    r = ResultFolder(tmp_path / "results")
    src = FrameSource(r, open_plate_view(r), ProxyCache())
    proxy = src.images(1001)
    assert proxy.alphas.shape == (2, 720, 1280) and proxy.plate.shape == (720, 1280, 3)
    assert proxy.scale == pytest.approx(3.0)
    full = src.images(1001, full=True)
    assert full.alphas.shape == (2, 2160, 3840) and full.scale == 1.0
    # the proxy is the full frame shrunk (area average), not a different picture
    shrunk = cv2.resize(
        full.alphas[0].astype(np.float32), (1280, 720), interpolation=cv2.INTER_AREA
    )
    assert np.abs(shrunk - proxy.alphas[0].astype(np.float32)).max() < 2e-3
    report = analyse(src)
    assert report.flow_compensated and report.changes["person01"][1] is not None
