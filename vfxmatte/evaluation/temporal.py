"""Temporal smoothing on clips for baselines, so they are scored under the pipeline's rules.

An engine runs the pipeline's own per-frame path (its smoother included). A baseline's raw
alphas get the same bidirectional windowed smoother (:func:`vfxmatte.refine.temporal.
smooth_sequence`) with the same strength option and default as ``vfxmatte run``, over the whole
clip at once, so every frame is smoothed with its full window as ``run`` would write it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vfxmatte.errors import BadArgumentError
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, smooth_sequence

# (per-frame alphas (N, H, W), per-frame images (H, W, 3)) of one clip -> smoothed alphas
Smoother = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], list[np.ndarray]]
SmootherFactory = Callable[[], Smoother]


def _clip_smoother(strength: float) -> Smoother:
    def smooth(alphas: Sequence[np.ndarray], images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [r.alphas for r in smooth_sequence(images, alphas, strength)]

    return smooth


def make_smoother(strength: float | None) -> tuple[SmootherFactory | None, str]:
    """A per-method smoother factory for ``strength`` (None: the pipeline default; 0: off)."""
    strength = DEFAULT_STRENGTH if strength is None else float(strength)
    if not 0.0 <= strength < 1.0:
        raise BadArgumentError(f"--temporal-strength {strength}: expected a value in [0, 1)")
    if strength == 0.0:
        return None, "temporal smoothing off (--temporal-strength 0)"
    return (lambda: _clip_smoother(strength)), (
        f"temporal smoothing applied (bidirectional window, strength {strength}, as `vfxmatte run`)"
    )
