"""The matting field's error metrics as plain numpy functions.

Every function takes alphas as float arrays in [0, 1] (not 0-255) and returns a Python float in
the unit papers print, so a number here can be set beside a published table:

- SAD: sum of absolute differences / 1000.
- MSE: mean squared error x 1e3.
- MAD: mean absolute difference x 1e3.
- Grad: sum over pixels of (|grad pred| - |grad gt|)^2 / 1000, gradients from first-order
  Gaussian derivative filters with sigma 1.4 scaled to unit L2 norm, as the alphamatting.com,
  Deep Image Matting and RVM evaluation code does (Rhemann et al. 2009); alphas are not
  min-max rescaled first.
- Conn: connectivity error with threshold step 0.1, / 1000 (Rhemann et al. 2009; 4-connected
  largest component, phi ignoring differences below 0.15).
- dtSSD: Robust Video Matting's convention: for each pair of consecutive frames,
  sqrt(mean(((p_t - p_t-1) - (g_t - g_t-1))^2)) x 100, averaged over the pairs.
- MESSDdt (Sun et al., DVM, CVPR 2021): motion from Farneback optical flow between consecutive
  true alphas (8-bit; pyramid 0.5, 5 levels, window 10, 2 iterations, poly 7 / 1.5), e_t-1
  resampled at x - flow; per pair sum(|e_t-1 warped - e_t|) / pixels x 10 with
  e = (pred - gt)^2, averaged over pairs. The x 10 scale follows the common video matting
  evaluation scripts; papers differ in scale, so compare MESSDdt only within this tool.
- IMQ: InstMatt's instance matting quality (see :func:`imq`).

Each metric is computed over the whole image (no trimap restriction) unless a ``region`` mask is
given, which is how instance-matting benchmarks (HIM2K) report them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

GRAD_SIGMA = 1.4
CONN_STEP = 0.1
CONN_PHI_THRESHOLD = 0.15


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    return pred, gt


def _weights(region: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if region is None:
        return np.ones(shape, np.float64)
    region = np.asarray(region)
    if region.shape != shape:
        raise ValueError(f"region {region.shape} and alpha {shape} differ in shape")
    return (region > 0).astype(np.float64)


def sad(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Sum of absolute differences, divided by 1000."""
    pred, gt = _pair(pred, gt)
    return float((np.abs(pred - gt) * _weights(region, gt.shape)).sum() / 1000.0)


def _mean_over(values: np.ndarray, weights: np.ndarray) -> float:
    count = weights.sum()
    return float((values * weights).sum() / count) if count > 0 else 0.0


def mse(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared error x 1e3 (over ``region`` when given)."""
    pred, gt = _pair(pred, gt)
    return _mean_over((pred - gt) ** 2, _weights(region, gt.shape)) * 1e3


def mad(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean absolute difference x 1e3 (over ``region`` when given)."""
    pred, gt = _pair(pred, gt)
    return _mean_over(np.abs(pred - gt), _weights(region, gt.shape)) * 1e3


def gaussian_derivative_kernel(sigma: float = GRAD_SIGMA, epsilon: float = 1e-2) -> np.ndarray:
    """The x-derivative-of-Gaussian kernel of the benchmark's gradient error.

    As the alphamatting.com / Deep Image Matting evaluation code builds it: half size
    ceil(sigma sqrt(-2 ln(sqrt(2 pi) sigma epsilon))) (4 for sigma 1.4), entries
    g(y) g'(x), then scaled to unit L2 norm. The L2 scaling (not unit slope) is what makes
    published Grad numbers comparable, so it is kept.
    """
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    dg = -u * g / sigma**2
    kernel = g[:, None] * dg[None, :]  # rows: y (Gaussian), columns: x (derivative)
    return kernel / np.sqrt((kernel**2).sum())


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """|grad alpha| with the benchmark's L2-normalised Gaussian derivative (replicated borders)."""
    a = np.asarray(alpha, dtype=np.float64)
    kx = gaussian_derivative_kernel(sigma)
    gx = cv2.filter2D(a, cv2.CV_64F, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, cv2.CV_64F, kx.T, borderType=cv2.BORDER_REPLICATE)
    return np.hypot(gx, gy)


def grad(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, sigma: float = GRAD_SIGMA
) -> float:
    """Gradient error: sum of squared gradient-magnitude differences / 1000."""
    pred, gt = _pair(pred, gt)
    diff = (gradient_magnitude(pred, sigma) - gradient_magnitude(gt, sigma)) ** 2
    return float((diff * _weights(region, gt.shape)).sum() / 1000.0)


def _largest_component(binary: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean image (all False when empty)."""
    count, labels = cv2.connectedComponents(binary.astype(np.uint8), connectivity=4)
    if count <= 1:
        return np.zeros(binary.shape, bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def connectivity_levels(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """Per pixel, the highest threshold up to which it stays in the common largest component.

    For each threshold t = step, 2 step, ..., 1, the largest 4-connected component of
    (pred >= t) & (gt >= t) is kept; a pixel's level is the last threshold before it drops out
    (1 if it never does).
    """
    thresholds = np.round(np.arange(0.0, 1.0 + step / 2, step), 10)
    levels = np.full(gt.shape, -1.0)
    for previous, t in zip(thresholds[:-1], thresholds[1:], strict=True):
        omega = _largest_component((pred >= t) & (gt >= t))
        levels[(levels == -1) & ~omega] = previous
    levels[levels == -1] = 1.0
    return levels


def conn(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, step: float = CONN_STEP
) -> float:
    """Connectivity error / 1000 (threshold step ``step``, phi ignores differences < 0.15)."""
    pred, gt = _pair(pred, gt)
    levels = connectivity_levels(pred, gt, step)
    dp, dg = pred - levels, gt - levels
    phi_p = 1.0 - dp * (dp >= CONN_PHI_THRESHOLD)
    phi_g = 1.0 - dg * (dg >= CONN_PHI_THRESHOLD)
    return float((np.abs(phi_p - phi_g) * _weights(region, gt.shape)).sum() / 1000.0)


def dtssd_pair(
    pred_t: np.ndarray, pred_prev: np.ndarray, gt_t: np.ndarray, gt_prev: np.ndarray
) -> float:
    """dtSSD of one frame pair (RVM convention: sqrt of the mean, x 100)."""
    pred_t, gt_t = _pair(pred_t, gt_t)
    pred_prev, gt_prev = _pair(pred_prev, gt_prev)
    d = (pred_t - pred_prev) - (gt_t - gt_prev)
    return float(np.sqrt((d**2).mean()) * 100.0)


def alpha_flow(gt_prev: np.ndarray, gt_t: np.ndarray) -> np.ndarray:
    """Motion of the true alpha from t-1 to t (Farneback on 8-bit alphas), (H, W, 2)."""
    a = np.clip(np.rint(np.asarray(gt_prev) * 255), 0, 255).astype(np.uint8)
    b = np.clip(np.rint(np.asarray(gt_t) * 255), 0, 255).astype(np.uint8)
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 10, 2, 7, 1.5, 0)


def _warp_back(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Frame t-1 resampled at x - flow(x) (bilinear): the flow runs from t-1 to t, so this
    lines frame t-1's content up with frame t."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = xs - flow[..., 0].astype(np.float32)
    map_y = ys - flow[..., 1].astype(np.float32)
    return cv2.remap(
        image.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float64)


def messddt_pair(
    pred_t: np.ndarray,
    pred_prev: np.ndarray,
    gt_t: np.ndarray,
    gt_prev: np.ndarray,
    flow: np.ndarray | None = None,
) -> float:
    """MESSDdt of one frame pair (x 10, see the module notes); ``flow`` from :func:`alpha_flow`."""
    pred_t, gt_t = _pair(pred_t, gt_t)
    pred_prev, gt_prev = _pair(pred_prev, gt_prev)
    if flow is None:
        flow = alpha_flow(gt_prev, gt_t)
    err_t = (pred_t - gt_t) ** 2
    err_prev = (_warp_back(pred_prev, flow) - _warp_back(gt_prev, flow)) ** 2
    return float(np.abs(err_prev - err_t).sum() / gt_t.size * 10.0)


def dtssd(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """Mean dtSSD over the consecutive pairs of a clip (0 pairs -> 0.0)."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predicted frames but {len(gts)} true frames")
    values = [dtssd_pair(preds[i], preds[i - 1], gts[i], gts[i - 1]) for i in range(1, len(gts))]
    return float(np.mean(values)) if values else 0.0


def messddt(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """Mean MESSDdt over the consecutive pairs of a clip (0 pairs -> 0.0)."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predicted frames but {len(gts)} true frames")
    values = [messddt_pair(preds[i], preds[i - 1], gts[i], gts[i - 1]) for i in range(1, len(gts))]
    return float(np.mean(values)) if values else 0.0


# -- instance metrics ---------------------------------------------------------------------------

IOU_BINARY_THRESHOLD = 0.5
MATCH_IOU = 0.5


@dataclass(frozen=True)
class IMQResult:
    """InstMatt's instance matting quality and its two factors (IMQ = MQ x RQ)."""

    imq: float
    mq: float
    rq: float
    tp: int
    fp: int
    fn: int
    matches: list[tuple[int, int, float]]  # (pred index, gt index, similarity)

    def as_dict(self) -> dict:
        return {
            "imq": self.imq,
            "mq": self.mq,
            "rq": self.rq,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def iou_matrix(preds: np.ndarray, gts: np.ndarray, threshold: float = IOU_BINARY_THRESHOLD):
    """(P, G) IoU of the binarised alphas (alpha >= threshold)."""
    p = np.asarray(preds).reshape(len(preds), -1) >= threshold
    g = np.asarray(gts).reshape(len(gts), -1) >= threshold
    inter = p.astype(np.float64) @ g.T.astype(np.float64)
    union = p.sum(1)[:, None] + g.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def imq(
    preds: np.ndarray,
    gts: np.ndarray,
    error: str = "mad",
    match_iou: float = MATCH_IOU,
    weight: float = 10.0,
) -> IMQResult:
    """Instance matting quality (InstMatt, Sun et al. CVPR 2022).

    Predicted and true instances are paired by Hungarian matching on the IoU of their binarised
    alphas (alpha >= 0.5); a pair is a true positive when its IoU >= ``match_iou``. Each true
    positive scores s = 1 - min(weight x err, 1), err being the mean absolute (``mad``) or squared
    (``mse``) error in [0, 1] units over the union region of the pair (pixels where either alpha
    is above 0). Unmatched predictions are false positives, unmatched truths false negatives:

        IMQ = sum(s) / (TP + FP/2 + FN/2),  RQ = TP / (TP + FP/2 + FN/2),  MQ = sum(s) / TP.
    """
    preds = np.asarray(preds, dtype=np.float64).reshape(-1, *np.shape(gts)[-2:])
    gts = np.asarray(gts, dtype=np.float64)
    if error not in ("mad", "mse"):
        raise ValueError(f"imq error must be 'mad' or 'mse', not {error!r}")
    matches: list[tuple[int, int, float]] = []
    if len(preds) and len(gts):
        iou = iou_matrix(preds, gts)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] < match_iou:
                continue
            region = (preds[r] > 0) | (gts[c] > 0)
            diff = np.abs(preds[r] - gts[c])[region]
            err = float((diff if error == "mad" else diff**2).mean()) if diff.size else 0.0
            matches.append((int(r), int(c), 1.0 - min(weight * err, 1.0)))
    tp = len(matches)
    fp, fn = len(preds) - tp, len(gts) - tp
    denom = tp + fp / 2 + fn / 2
    total = sum(s for _, _, s in matches)
    return IMQResult(
        imq=total / denom if denom else 1.0,
        mq=total / tp if tp else 0.0,
        rq=tp / denom if denom else 1.0,
        tp=tp,
        fp=fp,
        fn=fn,
        matches=matches,
    )


CORE_THRESHOLD = 0.99


def leakage(preds: np.ndarray, gts: np.ndarray, core: float = CORE_THRESHOLD) -> list[float | None]:
    """Per instance i: mean predicted alpha_i over pixels where another instance's true alpha is
    at least ``core`` (its solid core), x 1e3 like MAD. None where no other instance has a core
    (a single person, or others without solid pixels)."""
    preds = np.asarray(preds, dtype=np.float64)
    gts = np.asarray(gts, dtype=np.float64)
    if preds.shape != gts.shape:
        raise ValueError(f"predictions {preds.shape} and truths {gts.shape} differ in shape")
    cores = gts >= core
    out: list[float | None] = []
    for i in range(len(preds)):
        others = np.zeros(gts.shape[1:], bool)
        for j in range(len(gts)):
            if j != i:
                others |= cores[j]
        out.append(float(preds[i][others].mean() * 1e3) if others.any() else None)
    return out
