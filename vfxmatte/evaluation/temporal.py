"""The hook for temporal smoothing on clips, so eval scores what the pipeline would write.

The smoothing module (``vfxmatte.refine.temporal``) arrives with the video work; until it is
wired here, ``--temporal-strength`` is accepted and reported as not applied, so results never
claim a smoothing that did not happen.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

# (alphas (N, H, W), image (H, W, 3), new_shot) -> smoothed alphas
Smoother = Callable[[np.ndarray, np.ndarray, bool], np.ndarray]


def make_smoother(strength: float | None) -> tuple[Smoother | None, str]:
    """A smoother for ``strength`` (None or 0: no smoothing) and a note saying what happened."""
    if not strength:
        return None, "temporal smoothing off"
    if importlib.util.find_spec("vfxmatte.refine.temporal") is None:
        return None, (
            f"temporal smoothing NOT applied (--temporal-strength {strength} ignored): "
            "vfxmatte.refine.temporal is not in this build"
        )
    return None, (
        f"temporal smoothing NOT applied (--temporal-strength {strength} ignored): "
        "vfxmatte.refine.temporal exists but is not wired into eval yet "
        "(vfxmatte/evaluation/temporal.py:make_smoother)"
    )
