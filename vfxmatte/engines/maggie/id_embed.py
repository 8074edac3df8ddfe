"""The ID-embedded mask map: every instance's mask painted with its own learned vector.

The encoder sees one map for all instances of a pass instead of one image per instance, so its
cost does not grow with the number of people; where masks overlap the vectors are averaged (by
mask weight), so an overlap reads as "both" rather than as whichever was painted last.
"""

from __future__ import annotations

import torch
from torch import nn


class IDEmbedding(nn.Module):
    """(B, K, H, W) masks -> (B, E, H, W) map; slot k is always painted with embedding k."""

    def __init__(self, slots: int, dim: int):
        super().__init__()
        self.table = nn.Embedding(slots, dim)
        nn.init.normal_(self.table.weight, std=1.0)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        k = masks.shape[1]
        vectors = self.table.weight[:k]  # (K, E)
        painted = torch.einsum("bkhw,ke->behw", masks, vectors)
        coverage = masks.sum(1, keepdim=True)
        return painted / coverage.clamp(min=1.0)
