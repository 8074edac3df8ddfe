"""The smoother's "never add error" rule at confident pixels, and the smooth stage's shortcuts
(consistency only where the smoother changed pixels, the caller's plate array) giving the same
frames as the full-frame forms (fast, synthetic)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.frame import FramePath, FrameResult, Pending, WindowStream
from vfxmatte.refine.consistency import enforce_instance_consistency
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, frame_data, smooth_frame

H, W = 72, 96


def _plate(seed: int = 3) -> np.ndarray:
    small = np.random.default_rng(seed).random((H // 8 + 2, W // 8 + 2, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC), 0, 1)


def _patch(level: float) -> np.ndarray:
    """One instance: background 0 except a 20x20 patch at ``level`` (a static plate: no motion)."""
    a = np.zeros((1, H, W), np.float32)
    a[0, 20:40, 30:50] = level
    return a


def test_confident_pixel_is_not_moved_by_neighbours_on_one_side():
    """Last frame of a shot: three earlier frames agree on 0.6 where the engine says a confident
    0. The old vote followed them (they outweigh the current frame); one side is not enough."""
    plate = _plate()
    window = [frame_data(plate, _patch(v)) for v in (0.6, 0.6, 0.6, 0.0)]
    out = smooth_frame(3, window, DEFAULT_STRENGTH)
    assert np.array_equal(out.alphas, window[3].alphas)
    # with neighbours on both sides that agree, the confident frame is still outvoted
    window = [frame_data(plate, _patch(v)) for v in (0.6, 0.6, 0.6, 0.0, 0.6, 0.6, 0.6)]
    fixed = smooth_frame(3, window, DEFAULT_STRENGTH).alphas[0, 25:35, 35:45]
    assert np.allclose(fixed, 0.6, atol=1e-4)


def test_confident_pixel_stays_when_the_two_sides_disagree():
    plate = _plate()
    window = [frame_data(plate, _patch(v)) for v in (0.7, 0.7, 0.7, 1.0, 0.3, 0.3, 0.3)]
    window[3] = frame_data(plate, np.where(_patch(1.0) > 0, 1.0, 0.0).astype(np.float32))
    out = smooth_frame(3, window, DEFAULT_STRENGTH)
    assert np.array_equal(out.alphas[0, 20:40, 30:50], window[3].alphas[0, 20:40, 30:50])


def _moving_pair(t: int) -> np.ndarray:
    """Two overlapping soft discs moving right, made consistent as the engine path makes them."""
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    a = np.clip(14 - np.hypot(xx - 30 - 2 * t, yy - 36), 0, 1)
    b = np.clip(12 - np.hypot(xx - 52 - t, yy - 38), 0, 1) * 0.9
    jitter = np.random.default_rng(t).normal(0, 0.05, (2, H, W)).astype(np.float32)
    raw = np.clip(np.stack([a, b]) + jitter * (np.stack([a, b]) > 0), 0, 1)
    return enforce_instance_consistency(torch.from_numpy(raw))[0].numpy()


def test_stream_consistency_where_changed_equals_the_full_frame_form():
    """The stream re-checks instance consistency only at pixels the smoother may change; the
    frames must equal the full-frame check (within half-float rounding: EXRs are half)."""
    plate = _plate(5)
    stream = WindowStream(DEFAULT_STRENGTH)
    done, raws = [], []
    for t in range(7):
        raw = _moving_pair(t)
        raws.append(raw)
        union = enforce_instance_consistency(torch.from_numpy(raw))[1].numpy()
        result = FrameResult(frame=t, alphas=raw, union=union)
        done += stream.push(Pending(result, np.roll(plate, 2 * t, axis=1), None))
    done += stream.flush()
    assert [p.result.frame for p in done] == list(range(7))
    changed = 0
    for p in done:
        full, union = enforce_instance_consistency(torch.from_numpy(p.result.alphas.copy()))
        assert np.abs(p.result.alphas - full.numpy()).max() <= 1e-6
        assert np.abs(p.result.union - union.numpy()).max() <= 1e-6
        changed += int(np.count_nonzero(p.result.alphas != raws[p.result.frame]))
    assert changed > 0  # the smoother did change pixels (the check is not vacuous)


def test_frame_path_plate_array_gives_the_tensor_path_frames():
    """FramePath.push(rgb=...) (the pipeline passes its plate array) = the copy from the tensor."""
    from vfxmatte.engines import create_engine

    torch.set_num_threads(1)
    outs = []
    for give in (False, True):
        path = FramePath(create_engine("guided", torch.device("cpu"), {}), DEFAULT_STRENGTH)
        got = []
        for t in range(3):
            rgb = np.ascontiguousarray(np.roll(_plate(7), 3 * t, axis=1))
            masks = torch.from_numpy((_moving_pair(t) > 0.5).astype(np.float32))
            inp = EngineInput(
                image=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
                masks=masks, names=["a", "b"], frame=t, new_shot=t == 0,
            )  # fmt: skip
            got += path.push(inp, rgb=rgb if give else None)
        outs.append([r.alphas for r in got + path.flush()])
    assert len(outs[0]) == 3
    for a, b in zip(*outs, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("level", [0.0, 1.0])
def test_confident_pixels_of_a_clean_window_are_untouched(level):
    plate = _plate(9)
    window = [frame_data(plate, np.full((1, H, W), level, np.float32)) for _ in range(7)]
    out = smooth_frame(3, window, DEFAULT_STRENGTH)
    assert np.array_equal(out.alphas, window[3].alphas) and out.changed is None
