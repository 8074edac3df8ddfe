"""Ghosts: alpha far outside a person that is not connected to the person.

A window pane, a leaf shadow or a sign next to a head can look like the person's colour
closely enough that the solve gives it some alpha; on the real two-person clip such patches
sat as grey blocks beside both heads. Alpha that belongs to the person reaches the person's
edge through alpha: strands, fingers and hair are all connected. So connected parts of the
alpha that never come within the person's ordinary band are dropped.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vfxmatte.refine.filters import dilate

GHOST_ALPHA = 0.02  # alpha above this links a pixel to its neighbours


def drop_ghosts(
    alpha: torch.Tensor, mask: torch.Tensor, band: int, level: float = GHOST_ALPHA
) -> torch.Tensor:
    """``alpha`` (H,W) with its parts (alpha > ``level``, 8-connected) that do not touch the
    rough ``mask`` grown by ``band`` px set to zero."""
    on = (alpha > level).cpu().numpy().astype(np.uint8)
    if not on.any():
        return alpha
    near = (dilate((mask > 0.5).float(), band) > 0.5).cpu().numpy()
    count, labels = cv2.connectedComponents(on, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[near & (on > 0)])] = True
    keep[0] = False
    drop = torch.from_numpy((labels > 0) & ~keep[labels]).to(alpha.device)
    if not bool(drop.any()):
        return alpha
    return alpha.masked_fill(drop, 0.0)
