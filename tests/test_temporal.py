"""Temporal smoothing and flow: small synthetic sequences with known answers (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from vfxmatte.flow import dis_flow, flow_to_previous, to_grey, warp
from vfxmatte.refine.temporal import (
    DEFAULT_STRENGTH,
    DEFAULT_WINDOW,
    LARGE_OVERRIDE,
    WindowSmoother,
    frame_data,
    smooth_frame,
    smooth_sequence,
)

H, W = 96, 128


def _texture(seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (DIS needs structure to track)."""
    rng = np.random.default_rng(seed)
    small = rng.random((H // 8 + 4, W // 8 + 4, 3)).astype(np.float32)
    import cv2

    big = cv2.resize(small, (W + 32, H + 32), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 1)


def _square(x0: float, size: int = 30) -> np.ndarray:
    """A soft-edged square alpha with its left edge at x0 (sub-pixel)."""
    xs = np.arange(W, dtype=np.float32)
    ys = np.arange(H, dtype=np.float32)
    ax = np.clip(xs - x0 + 0.5, 0, 1) * np.clip(x0 + size - xs + 0.5, 0, 1)
    ay = np.clip(ys - 30 + 0.5, 0, 1) * np.clip(30 + size - ys + 0.5, 0, 1)
    return (ay[:, None] * ax[None, :]).astype(np.float32)


def test_default_strength_matches_jobspec():
    from vfxmatte.jobspec import JobSpec

    spec = JobSpec(plate="p.####.exr", out="o.####.exr", masks={"a": "m.####.png"})
    assert spec.temporal_strength == DEFAULT_STRENGTH


def test_dis_flow_finds_a_translation_and_warp_undoes_it():
    tex = _texture()
    prev = tex[:H, :W]
    cur = tex[:H, 3 : W + 3]  # content moved 3 px to the left
    back = dis_flow(to_grey(cur), to_grey(prev))  # cur(x) ~ prev(x + back)
    inner = back[10:-10, 10:-10]
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.3)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.3)
    rebuilt = warp(prev, back)
    assert np.abs(rebuilt - cur)[10:-10, 10:-10].mean() < 0.02


def test_reliability_flags_an_occluder():
    tex = _texture(1)
    prev = tex[:H, :W].copy()
    cur = tex[:H, 2 : W + 2].copy()
    cur[20:60, 40:80] = 1.0  # a white card slides in: nothing in prev matches it
    pair = flow_to_previous(to_grey(prev), to_grey(cur), W)
    assert pair.reliable[30:50, 50:70].mean() < 0.3
    assert pair.reliable[70:90, 10:30].mean() > 0.7


def _noisy(truth: np.ndarray, n: int, sigma: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(truth + rng.normal(0, sigma, truth.shape), 0, 1).astype(np.float32)[None]
        for _ in range(n)
    ]


def _alphas(result) -> list[np.ndarray]:
    return [r.alphas for r in result]


def test_static_flicker_is_reduced_and_strength_zero_is_identity():
    tex = _texture(2)[:H, :W]
    truth = 0.2 + 0.6 * _square(40)  # hair-like levels: noise on 0 or 1 would be clipped
    frames = [tex] * 12
    noisy = _noisy(truth, 12, 0.05, 3)
    assert all(
        np.array_equal(o, a)
        for o, a in zip(_alphas(smooth_sequence(frames, noisy, 0.0)), noisy, strict=True)
    )
    out = _alphas(smooth_sequence(frames, noisy, DEFAULT_STRENGTH))
    flicker_in = np.mean([np.abs(noisy[t] - noisy[t - 1]).mean() for t in range(1, 12)])
    flicker_out = np.mean([np.abs(out[t] - out[t - 1]).mean() for t in range(1, 12)])
    assert flicker_out < 0.7 * flicker_in
    err_in = np.mean([np.abs(a - truth).mean() for a in noisy])
    err_out = np.mean([np.abs(a - truth).mean() for a in out])
    assert err_out < err_in


def _body_window(levels: list[float]) -> list:
    """Static textured plate, one opaque square whose body is at ``levels[t]`` on frame t."""
    tex = _texture(11)[:H, :W]
    body = _square(40)
    return [frame_data(tex, (body * v)[None]) for v in levels]


def test_outlier_current_frame_is_outvoted_by_agreeing_neighbours():
    window = _body_window([1.0, 1.0, 0.67, 1.0, 1.0])
    out = smooth_frame(2, window, DEFAULT_STRENGTH)
    core = _square(40) == 1.0
    assert np.abs(out.alphas[0][core] - 1.0).max() < 1e-4  # neighbours win, no 0.67 left
    assert out.large[0] and out.override[0] > LARGE_OVERRIDE


def test_outlier_neighbour_is_not_averaged_in():
    window = _body_window([1.0, 1.0, 1.0, 0.67, 1.0])
    core = _square(40) == 1.0
    for t in (2, 4):  # the frames next to the bad one keep their body exactly
        out = smooth_frame(t, window, DEFAULT_STRENGTH)
        assert np.array_equal(out.alphas[0][core], window[t].alphas[0][core])
        assert out.override[0] < 0.01 and not out.large[0]


def test_no_alpha_outside_the_support_and_clean_pixels_untouched():
    tex = _texture(12)[:H, :W]
    truth = 0.2 + 0.6 * _square(40)
    alphas = [a * (_square(36, 38) > 0) for a in _noisy(truth, 5, 0.05, 13)]  # empty around it
    blob = np.zeros((1, H, W), np.float32)
    blob[0, 5:15, 5:15] = 0.8  # one neighbour alone says there is something here
    alphas[1] = np.maximum(alphas[1], blob)
    window = [frame_data(tex, a) for a in alphas]
    out = smooth_frame(2, window, DEFAULT_STRENGTH).alphas
    assert np.array_equal(out[0, :20, :20], alphas[2][0, :20, :20])  # outvoted: still empty
    stack = np.stack(alphas)
    assert (out <= stack.max(0) + 1e-6).all() and (out >= stack.min(0) - 1e-6).all()
    # Solid, clean frames pass through bit for bit.
    solid = [frame_data(tex, _square(40)[None]) for _ in range(5)]
    assert np.array_equal(smooth_frame(2, solid, DEFAULT_STRENGTH).alphas, solid[2].alphas)


def _moving_shot(n: int, seed: int):
    tex = _texture(seed)
    rng = np.random.default_rng(seed + 1)
    frames, alphas = [], []
    for t in range(n):
        frames.append(tex[:H, t : W + t].copy())
        a = 0.2 + 0.6 * _square(20 + 2 * t)
        alphas.append(np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)[None])
    return frames, alphas


def test_a_frame_depends_only_on_its_window():
    """Whole shot, a window sliced out of it, and a stream started k frames early (a resumed
    job's lead-in) give the same bytes for the frames whose window they hold."""
    k = DEFAULT_WINDOW
    frames, alphas = _moving_shot(10, 9)
    whole = _alphas(smooth_sequence(frames, alphas, DEFAULT_STRENGTH))
    t = 5
    window = [
        frame_data(f, a)
        for f, a in zip(frames[t - k : t + k + 1], alphas[t - k : t + k + 1], strict=True)
    ]
    assert np.array_equal(smooth_frame(k, window, DEFAULT_STRENGTH).alphas, whole[t])
    stream = WindowSmoother(DEFAULT_STRENGTH)
    done = []
    for i in range(t - k, 10):  # lead-in from t-k, then to the end of the shot
        done += stream.push(1001 + i, frames[i], alphas[i])
    done += stream.flush()
    got = dict(done)
    assert sorted(got) == list(range(1001 + t - k, 1011))  # frame numbers kept, lag k
    for i in range(t, 10):
        assert np.array_equal(got[1001 + i].alphas, whole[i]), i
    assert not np.array_equal(got[1001 + t - k].alphas, whole[t - k])  # lead-in: not to be written


def test_moving_object_does_not_lag():
    """A square moving 3 px/frame over a moving background: warped neighbours stay aligned."""
    tex = _texture(4)
    frames, alphas = [], []
    for t in range(8):
        bg = tex[:H, t : W + t].copy()
        a = _square(20 + 3 * t)
        fg = np.array([0.9, 0.2, 0.1], np.float32) * (0.7 + 0.3 * _texture(5)[:H, :W])
        frames.append(bg * (1 - a[..., None]) + fg * a[..., None])
        alphas.append(a[None])
    out = _alphas(smooth_sequence(frames, alphas, DEFAULT_STRENGTH))
    worst = max(np.abs(o - a).mean() for o, a in zip(out, alphas, strict=True))
    assert worst < 0.002


def test_inactive_instances_pass_through_and_sum_stays_at_most_one():
    tex = _texture(6)[:H, :W]
    a = np.stack([_square(20) * 0.6, _square(20) * 0.4])
    b = np.stack([_square(24) * 0.5, np.zeros((H, W), np.float32)])
    window = [frame_data(tex, a), frame_data(tex, b, active=[True, False]), frame_data(tex, a)]
    out = smooth_frame(1, window, 0.9).alphas
    assert np.array_equal(out[1], b[1])  # the person who left stays gone: no ghost
    assert not np.array_equal(out[0], b[0])
    assert out.sum(0).max() <= 1.0 + 1e-5
    assert np.array_equal(smooth_frame(0, window[:1], 0.9).alphas, a)  # alone: passes through
    with pytest.raises(ValueError):
        WindowSmoother(1.0)
    with pytest.raises(ValueError):
        WindowSmoother(0.9, window=0)


def test_a_lone_neighbour_pulls_less_than_corroborated_ones(monkeypatch):
    """Neighbour agreement: a neighbour whose value no other candidate backs keeps only a floor
    of its vote, so one odd frame (within the inlier tolerance, where the median alone would
    still average it in) moves the result much less than it would without the term."""
    import vfxmatte.refine.temporal as temporal

    levels = [0.6] * 7
    levels[4] = 0.8  # the frame after the centre disagrees, alone
    window = _body_window(levels)
    core = _square(40) == 1.0

    def pull() -> float:
        return float(np.abs(smooth_frame(3, window, DEFAULT_STRENGTH).alphas[0][core] - 0.6).max())

    with_term = pull()
    monkeypatch.setattr(temporal, "NEIGHBOUR_AGREEMENT", 0.0)
    without = pull()
    assert without > 0.005 and with_term < 0.35 * without, (with_term, without)
    # two neighbours agreeing with each other are corroborated: they pull as without the term
    levels[2] = 0.8
    window[:] = _body_window(levels)
    monkeypatch.setattr(temporal, "NEIGHBOUR_AGREEMENT", 0.1)
    both = pull()
    monkeypatch.setattr(temporal, "NEIGHBOUR_AGREEMENT", 0.0)
    assert both > 0.5 * pull()
