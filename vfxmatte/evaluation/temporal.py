"""Temporal smoothing on clips, so eval scores what the pipeline would write.

Eval applies the pipeline's causal smoother (:class:`vfxmatte.refine.temporal.TemporalSmoother`)
with the same strength option and default as ``vfxmatte run``. Each method gets its own smoother
so the state of one (say the engine) never leaks into another (a baseline).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vfxmatte.errors import BadArgumentError
from vfxmatte.refine.temporal import DEFAULT_STRENGTH, TemporalSmoother

# (alphas (N, H, W), image (H, W, 3), new_shot) -> smoothed alphas
Smoother = Callable[[np.ndarray, np.ndarray, bool], np.ndarray]
SmootherFactory = Callable[[], Smoother]


class _ClipSmoother:
    """Adapts the pipeline's smoother to eval's call shape (reset at each clip's first frame)."""

    def __init__(self, strength: float):
        self._smoother = TemporalSmoother(strength)

    def __call__(self, alphas: np.ndarray, image: np.ndarray, new_shot: bool) -> np.ndarray:
        if new_shot:
            self._smoother.reset()
        return self._smoother(image, alphas)


def make_smoother(strength: float | None) -> tuple[SmootherFactory | None, str]:
    """A per-method smoother factory for ``strength`` (None: the pipeline default; 0: off)."""
    strength = DEFAULT_STRENGTH if strength is None else float(strength)
    if not 0.0 <= strength < 1.0:
        raise BadArgumentError(f"--temporal-strength {strength}: expected a value in [0, 1)")
    if strength == 0.0:
        return None, "temporal smoothing off (--temporal-strength 0)"
    return (lambda: _ClipSmoother(strength)), (
        f"temporal smoothing applied (causal, strength {strength}, as `vfxmatte run`)"
    )
