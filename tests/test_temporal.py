"""Temporal smoothing and flow: small synthetic sequences with known motion (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from vfxmatte.flow import dis_flow, flow_to_previous, to_grey, warp
from vfxmatte.refine.temporal import (
    DEFAULT_STRENGTH,
    DEFAULT_WINDOW,
    TemporalSmoother,
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


def test_static_flicker_is_reduced_and_strength_zero_is_identity():
    tex = _texture(2)[:H, :W]
    rng = np.random.default_rng(3)
    truth = _square(40)
    frames = [tex] * 12
    noisy = [
        np.clip(truth + rng.normal(0, 0.08, truth.shape), 0, 1).astype(np.float32)[None]
        for _ in frames
    ]
    off = TemporalSmoother(0.0)
    assert all(np.array_equal(off(f, a), a) for f, a in zip(frames, noisy, strict=True))
    smoother = TemporalSmoother(DEFAULT_STRENGTH)
    out = [smoother(f, a) for f, a in zip(frames, noisy, strict=True)]
    flicker_in = np.mean([np.abs(noisy[t] - noisy[t - 1]).mean() for t in range(1, 12)])
    flicker_out = np.mean([np.abs(out[t] - out[t - 1]).mean() for t in range(1, 12)])
    assert flicker_out < 0.5 * flicker_in
    err_in = np.mean([np.abs(a - truth).mean() for a in noisy[4:]])
    err_out = np.mean([np.abs(a - truth).mean() for a in out[4:]])
    assert err_out < err_in  # averaging noise also brings it closer to the truth


def test_moving_object_does_not_lag():
    """A square moving 3 px/frame over a moving background: warped history stays aligned."""
    tex = _texture(4)
    frames, alphas = [], []
    for t in range(8):
        bg = tex[:H, t : W + t].copy()
        a = _square(20 + 3 * t)
        fg = np.array([0.9, 0.2, 0.1], np.float32) * (0.7 + 0.3 * _texture(5)[:H, :W])
        frames.append(bg * (1 - a[..., None]) + fg * a[..., None])
        alphas.append(a[None])
    smoother = TemporalSmoother(DEFAULT_STRENGTH)
    out = [smoother(f, a) for f, a in zip(frames, alphas, strict=True)]
    worst = max(np.abs(o - a).mean() for o, a in zip(out, alphas, strict=True))
    # The same recursive blend without warping (a plain exponential average) trails the object.
    ema = [alphas[0]]
    for a in alphas[1:]:
        ema.append(DEFAULT_STRENGTH * ema[-1] + (1 - DEFAULT_STRENGTH) * a)
    trailing = max(np.abs(o - a).mean() for o, a in zip(ema, alphas, strict=True))
    assert worst < 0.5 * trailing


def test_reset_inactive_and_sum_preserved():
    tex = _texture(6)[:H, :W]
    a = np.stack([_square(20) * 0.6, _square(20) * 0.4])
    b = np.stack([_square(24) * 0.5, np.zeros((H, W), np.float32)])
    smoother = TemporalSmoother(0.9)
    smoother(tex, a)
    out = smoother(tex, b, active=[True, False])
    assert np.array_equal(out[1], b[1])  # the person who left stays gone: no ghost
    assert not np.array_equal(out[0], b[0])
    assert out.sum(0).max() <= 1.0 + 1e-5
    smoother.reset()
    assert np.array_equal(smoother(tex, b), b)  # after a reset the first frame passes through
    with pytest.raises(ValueError):
        TemporalSmoother(1.0)


def test_bidirectional_sequence_has_no_lag_at_either_end():
    tex = _texture(7)[:H, :W]
    rng = np.random.default_rng(8)
    # A semi-transparent matte (hair-like levels), so the noise is rarely clipped: clipped noise
    # on 0 or 1 is one-sided and no average removes its bias.
    truth = 0.2 + 0.6 * _square(50)
    noisy = [np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)[None] for _ in range(6)]
    both = smooth_sequence([tex] * 6, noisy, DEFAULT_STRENGTH, bidirectional=True)
    causal = smooth_sequence([tex] * 6, noisy, DEFAULT_STRENGTH, bidirectional=False)
    assert len(both) == 6
    assert np.array_equal(causal[0], noisy[0].astype(np.float32))  # a causal pass: raw
    # Bidirectional smooths it too, from the frames after it.
    assert np.abs(both[0] - truth).mean() < 0.7 * np.abs(noisy[0] - truth).mean()


def test_preroll_of_one_window_gives_the_whole_run_exactly():
    """Causal state is the raw alphas of the last DEFAULT_WINDOW frames: a chunk pre-rolled by
    that many frames equals the whole run; one frame less does not."""
    tex = _texture(9)
    rng = np.random.default_rng(10)
    frames, alphas = [], []
    for t in range(10):
        frames.append(tex[:H, t : W + t].copy())
        a = 0.2 + 0.6 * _square(20 + 2 * t)
        alphas.append(np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)[None])
    whole = smooth_sequence(frames, alphas, DEFAULT_STRENGTH, bidirectional=False)
    for preroll, exact in ((DEFAULT_WINDOW, True), (DEFAULT_WINDOW - 1, False)):
        smoother = TemporalSmoother(DEFAULT_STRENGTH)
        start = 7 - preroll
        chunk = [smoother(f, a) for f, a in zip(frames[start:], alphas[start:], strict=True)]
        same = all(np.array_equal(c, w) for c, w in zip(chunk[preroll:], whole[7:], strict=True))
        assert same == exact, preroll
