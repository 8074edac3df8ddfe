"""Held frames at half precision (issue 20, memory): the smoother keeps each waiting frame's plate
and raw alphas as float16 and the waiting record keeps no plate, no raw alphas and a half-float
union. The written layers are half floats, so the result must not move by more than half-float
rounding: measured on the real two-person clip with the real engine, against the same stream
holding float32.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vfxmatte.engines import create_engine
from vfxmatte.engines.base import EngineInput
from vfxmatte.frame import HELD_DTYPE, FramePath, FrameResult, Pending, WindowStream
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, _sample

SIZE = (480, 270)  # a quarter of the clip's side: seconds on one thread
FRAMES = 7  # one full window (k = 3 either side) around frame 3
HALF_ULP_AT_ONE = 2.0**-11  # spacing of float16 just below 1.0


def _clip_frames(shared_data):
    clip = shared_data / "dev-sets" / "clips" / "clip_GT04_GT23"
    if not clip.is_dir():
        pytest.skip(f"{clip} not found")
    for t in range(FRAMES):
        bgr = cv2.imread(str(clip / "frames" / f"{t:04d}.jpg"), cv2.IMREAD_COLOR)
        rgb = cv2.resize(bgr[..., ::-1], SIZE, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(rgb, np.float32) / 255.0
        masks = []
        for k in range(2):
            m = cv2.imread(str(clip / "masks" / f"{t:04d}" / f"{k:02d}.png"), cv2.IMREAD_GRAYSCALE)
            masks.append(cv2.resize(m, SIZE, interpolation=cv2.INTER_NEAREST) > 127)
        yield t, rgb, np.stack(masks).astype(np.float32)


def _raw_results(shared_data) -> list[tuple[FrameResult, np.ndarray]]:
    """Engine + instance consistency per frame (smoothing off): what a stream is pushed."""
    path = FramePath(create_engine("guided", torch.device("cpu"), {}), 0.0)
    out = []
    for t, rgb, masks in _clip_frames(shared_data):
        inp = EngineInput(
            image=torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))),
            masks=torch.from_numpy(masks), names=["a", "b"], frame=t, new_shot=t == 0,
        )  # fmt: skip
        (result,) = path.push(inp, rgb=rgb)
        out.append((result, rgb))
    return out


def _stream(raw, storage) -> tuple[list[FrameResult], WindowStream]:
    stream = WindowStream(DEFAULT_STRENGTH, storage=storage)
    done = []
    for result, rgb in raw:
        copy = FrameResult(result.frame, result.alphas.copy(), result.union.copy())
        done += stream.push(Pending(copy, rgb, None))
    return [p.result for p in done + stream.flush()], stream


@pytest.mark.integration
@pytest.mark.usefixtures("one_torch_thread")
def test_half_precision_held_frames_write_what_float32_writes(shared_data):
    raw = _raw_results(shared_data)
    half, _ = _stream(raw, HELD_DTYPE)
    full, _ = _stream(raw, np.float32)
    assert [r.frame for r in half] == [r.frame for r in full] == list(range(FRAMES))
    moved = 0
    for h, f, (r, _) in zip(half, full, raw, strict=True):
        assert h.alphas.dtype == np.float32 and h.union.dtype == np.float32
        moved += int(np.count_nonzero(f.alphas != r.alphas))
        # what is written: half floats of each layer and of the union. The robust vote is not
        # continuous (a weighted median, agreement thresholds): at a near-tie, inputs rounded to
        # half floats can pick the other candidate. Measured: ~20 of 259,200 pixels per frame
        # (0.01%) at 480x270, by up to 0.2; every other pixel within two half-float steps.
        for a, b in ((h.alphas, f.alphas), (h.union, f.union)):
            wa, wb = a.astype(np.float16), b.astype(np.float16)
            diff = np.abs(wa.astype(np.float32) - wb.astype(np.float32))
            assert np.count_nonzero(diff > 2 * HALF_ULP_AT_ONE) <= 2e-4 * diff.size, r.frame
            assert diff.mean() <= 2e-5, (r.frame, float(diff.mean()))
    assert moved > 1000  # the smoother changed pixels: the comparison is not vacuous


def test_stream_holds_half_precision_and_no_plate():
    """While frames wait, the record holds neither plate nor raw alphas and the smoother's copies
    are float16 (what halves a held 4K frame)."""
    rng = np.random.default_rng(1)
    stream = WindowStream(DEFAULT_STRENGTH)
    for t in range(2):  # fewer than the lag: both frames are held
        alphas = rng.random((2, 36, 64), dtype=np.float32)
        rgb = rng.random((36, 64, 3), dtype=np.float32)
        item = Pending(FrameResult(t, alphas, alphas.max(0)), rgb, None)
        assert stream.push(item) == []
        assert item.rgb is None and item.result.alphas.size == 0
        assert item.result.union.dtype == np.float16
    held = [f[2] for f in stream._smoother._frames]
    assert all(f.rgb.dtype == np.float16 and f.alphas.dtype == np.float16 for f in held)
    assert [p.result.frame for p in stream.flush()] == [0, 1]


def test_sampling_a_half_float_map_equals_sampling_its_float32_copy():
    """The smoother's bilinear samples of a float16 map (widened over the box the points reach)
    equal OpenCV's of the whole map made float32, at the image's edges and beyond them too."""
    rng = np.random.default_rng(2)
    for shape in ((40, 50), (40, 50, 3)):
        image = rng.random(shape, dtype=np.float32).astype(np.float16)
        mx = rng.uniform(-3.0, 53.0, 500).astype(np.float32)
        my = rng.uniform(-3.0, 43.0, 500).astype(np.float32)
        mx[:3], my[:3] = [0.0, 49.0, 49.9], [0.0, 39.0, 39.9]
        want = _sample(image.astype(np.float32), mx, my)
        got = _sample(image, mx, my)
        assert got.dtype == np.float32 and np.array_equal(got, want)
        near_x, near_y = mx[10:12] * 0.1 + 20, my[10:12] * 0.1 + 20  # a box of a few pixels
        got = _sample(image, near_x, near_y)
        assert np.array_equal(got, _sample(image.astype(np.float32), near_x, near_y))
