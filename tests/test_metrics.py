"""Metrics against values worked out by hand (the comments show the arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

from vfxmatte import metrics


def _five_pixel_case() -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((10, 10))
    gt[0, :4] = 1.0  # four wrong by 1
    gt[5, 5] = 0.5  # one wrong by 0.5
    return np.zeros_like(gt), gt


def test_sad_mse_mad_hand_computed():
    pred, gt = _five_pixel_case()
    assert metrics.sad(pred, gt) == pytest.approx(4.5 / 1000)  # |diffs| sum to 4.5
    assert metrics.mse(pred, gt) == pytest.approx((4 * 1 + 0.25) / 100 * 1e3)  # 42.5
    assert metrics.mad(pred, gt) == pytest.approx(4.5 / 100 * 1e3)  # 45
    region = np.zeros_like(gt)
    region[0, :] = 1  # 10 pixels, 4 of them wrong by 1
    assert metrics.mad(pred, gt, region) == pytest.approx(400.0)
    assert metrics.sad(pred, gt, region) == pytest.approx(0.004)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.sad(np.zeros((2, 2)), np.zeros((2, 3)))


def test_gradient_kernel_by_hand():
    # sigma 1.4: half size ceil(1.4 sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = ceil(3.62) = 4 -> 9x9;
    # odd in x, even in y, unit L2 norm.
    k = metrics.gaussian_derivative_kernel(1.4)
    assert k.shape == (9, 9)
    assert (k**2).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, -k[:, ::-1])
    np.testing.assert_allclose(k, k[::-1, :])
    g = lambda u: np.exp(-(u**2) / (2 * 1.4**2))  # noqa: E731 - unnormalised is enough for ratios
    assert k[4, 5] / k[4, 6] == pytest.approx((1 * g(1)) / (2 * g(2)))
    assert k[3, 5] / k[4, 5] == pytest.approx(g(1) / g(0))


def test_grad_of_a_ramp_is_its_filtered_slope_squared():
    # A ramp of slope c has |grad| = c |sum_x x k(y, x)| away from the borders, so against a
    # flat prediction: 400 interior pixels x (c K)^2 / 1000.
    k = metrics.gaussian_derivative_kernel(1.4)
    big_k = abs(sum(k[y, x] * (x - 4) for y in range(9) for x in range(9)))
    c = 0.01
    gt = np.tile(np.arange(40) * c, (40, 1))
    region = np.zeros_like(gt)
    region[10:30, 10:30] = 1
    expected = 400 * (c * big_k) ** 2 / 1000
    assert metrics.grad(np.zeros_like(gt), gt, region) == pytest.approx(expected, rel=1e-9)
    assert metrics.grad(gt, gt) == 0.0
    assert metrics.grad(gt + 0.3, gt) == pytest.approx(0.0, abs=1e-12)  # offsets have no gradient


def test_conn_hole_splits_the_component():
    # gt all 1; pred's 0 at pixel 2 cuts pixel 3 off the largest component at every threshold,
    # so pixels 2 and 3 get level 0: phi_pred = [1,1,1,0], phi_gt = [1,1,0,0] -> sum 1 -> 1e-3.
    gt = np.ones((1, 4))
    pred = np.array([[1.0, 1.0, 0.0, 1.0]])
    assert metrics.conn(pred, gt) == pytest.approx(1e-3)


def test_conn_partial_value_drops_at_its_threshold():
    # pred 0.35 at pixel 2 stays connected until t=0.4 -> level 0.3; d_pred = 0.05 < 0.15 so
    # phi_pred = 1; d_gt = 0.7 -> phi_gt = 0.3; |1 - 0.3| = 0.7 -> 7e-4.
    gt = np.ones((1, 3))
    pred = np.array([[1.0, 1.0, 0.35]])
    np.testing.assert_allclose(metrics.connectivity_levels(pred, gt), [[1.0, 1.0, 0.3]])
    assert metrics.conn(pred, gt) == pytest.approx(7e-4)
    assert metrics.conn(gt, gt) == 0.0


def test_dtssd_rvm_convention():
    # One pixel of four flickers by 1 while the truth is still: sqrt(1/4) x 100 = 50.
    gt = [np.zeros((2, 2)), np.zeros((2, 2))]
    pred = [np.zeros((2, 2)), np.array([[1.0, 0.0], [0.0, 0.0]])]
    assert metrics.dtssd(pred, gt) == pytest.approx(50.0)
    # A prediction that moves exactly as the truth moves has no temporal error.
    moving = [np.eye(4), np.roll(np.eye(4), 1, axis=1)]
    assert metrics.dtssd(moving, moving) == 0.0
    assert metrics.dtssd(pred[:1], gt[:1]) == 0.0


def test_messddt_static_truth():
    # Still (empty) truth -> zero flow; error 0.25 at one of 16 pixels at t-1, none at t:
    # 0.25 / 16 x 10 = 0.15625.
    gt = [np.zeros((4, 4)), np.zeros((4, 4))]
    prev = np.zeros((4, 4))
    prev[1, 1] = 0.5
    assert metrics.messddt([prev, np.zeros((4, 4))], gt) == pytest.approx(0.15625)
    assert metrics.messddt(gt, gt) == 0.0


def test_messddt_steady_error_along_motion_is_small():
    # A soft disc moves 2 px; the prediction carries the same error pattern along with it, so
    # the warped error at t-1 matches the error at t and MESSDdt stays far below a flicker.
    yy, xx = np.mgrid[:64, :64]
    gts = [np.clip(12 - np.hypot(yy - 32, xx - 30 - 2 * k), 0, 1) for k in range(2)]
    steady = [g * 0.8 for g in gts]
    flicker = [gts[0] * 0.8, gts[1]]
    assert metrics.messddt(steady, gts) < 0.2 * metrics.messddt(flicker, gts)


def _block(h: int, w: int, y: int, x: int, size: int, value: float = 1.0) -> np.ndarray:
    a = np.zeros((h, w))
    a[y : y + size, x : x + size] = value
    return a


def test_imq_with_missed_and_spurious_instances():
    h, w = 20, 60
    gt_a, gt_b, gt_c = (_block(h, w, 2, x, 10) for x in (0, 20, 40))
    pred_a = gt_a.copy()  # perfect: s = 1
    pred_b = _block(h, w, 2, 20, 10, 0.95)  # MAD 0.05 on its union -> s = 1 - 10 x 0.05 = 0.5
    pred_spurious = _block(h, w, 12, 5, 5)  # overlaps no truth -> FP; gt_c unmatched -> FN
    preds = np.stack([pred_spurious, pred_b, pred_a])  # order must not matter
    result = metrics.imq(preds, np.stack([gt_a, gt_b, gt_c]))
    assert (result.tp, result.fp, result.fn) == (2, 1, 1)
    # IMQ = (1 + 0.5) / (2 + 1/2 + 1/2) = 0.5; RQ = 2/3; MQ = 0.75
    assert result.imq == pytest.approx(0.5)
    assert result.rq == pytest.approx(2 / 3)
    assert result.mq == pytest.approx(0.75)
    assert result.imq == pytest.approx(result.mq * result.rq)
    assert sorted((p, g) for p, g, _ in result.matches) == [(1, 1), (2, 0)]


def test_imq_mse_and_edge_cases():
    gt = np.stack([_block(10, 10, 0, 0, 10)])
    pred = np.stack([_block(10, 10, 0, 0, 10, 0.9)])  # MSE 0.01 -> s = 0.9
    assert metrics.imq(pred, gt, error="mse").imq == pytest.approx(0.9)
    assert metrics.imq(pred, gt, error="mad").imq == pytest.approx(0.0)  # MAD 0.1 -> s = 0
    empty = metrics.imq(np.zeros((0, 10, 10)), gt)
    assert (empty.imq, empty.fn) == (0.0, 1)
    with pytest.raises(ValueError):
        metrics.imq(pred, gt, error="sad")


def test_leakage_into_another_core():
    gt = np.stack([_block(4, 4, 0, 0, 4), np.zeros((4, 4))])
    gt[0, :, 2:] = 0.0  # person 0 owns the left half,
    gt[1, :, 2:] = 1.0  # person 1 the right half
    pred = gt.copy()
    pred[0, :, 2:] = 0.2  # person 0 leaks 0.2 into person 1's core
    assert metrics.leakage(pred, gt) == pytest.approx([200.0, 0.0])
    assert metrics.leakage(pred[:1], gt[:1]) == [None]
