"""Values above 1 in the engine's input: kept, softly compressed, not clipped.

Why: a plate's highlights (a sky above 1 in scene-linear, still above 1 after the sRGB
encoding the engine sees) often sit behind the finest detail. On the demo shot, hair strands
of alpha 0.1-0.5 over a sky of 1.2-1.5 are still above 1 in every channel: clipping at 1 made
them the same white as the sky, so no colour model or solve could find them (hair recovery 0%).
A logarithmic shoulder above 1 (continuous, slope 1 at 1) keeps their contrast while a hot
specular of 100 stays a moderate 3-4, so the colour models' fixed scales (noise floors,
distortion sigmas) still mean what they meant on [0, 1] images.
"""

from __future__ import annotations

import torch


def compress_highlights(image: torch.Tensor, knee: float = 1.0) -> torch.Tensor:
    """``image`` with negatives clipped to 0 and values above ``knee`` mapped to
    ``knee * (1 + log(x / knee))``: unchanged below the knee, monotonic and smooth above it."""
    x = image.clamp_min(0.0)
    over = x > knee
    if not bool(over.any()):
        return x
    shoulder = knee * (1.0 + torch.log(x.clamp_min(knee) / knee))
    return torch.where(over, shoulder, x)
