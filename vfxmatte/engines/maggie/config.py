"""The architecture of a maggie network as plain data, so a checkpoint can rebuild its network.

Every checkpoint stores this config (JSON in the safetensors metadata); loading builds the network
from it rather than from code defaults, so a file trained with other widths still loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class MaggieConfig:
    """Widths and sizes of the network.

    slots: instances per pass (more people run in passes of ``slots``).
    embed_dim: channels of the ID-embedded mask map fed to the encoder beside RGB.
    dim: channels of the 1/8 feature map, of the instance tokens and of the dynamic kernels.
    heads: attention heads of the instance decoder.
    layers: instance decoder layers (each: token<-pixel, token self-attention, pixel<-token).
    refine_dim: channels of the dense refiners at 1/4 and 1/1.
    mask_prior: starting gain of the rough mask added to the 1/8 logits (0: learn from nothing).
    uncertain: an alpha strictly between ``uncertain`` and ``1 - uncertain`` is re-estimated.
    guide: the network also reads a guide alpha per instance (the guided engine's output): the
        encoder sees it as a second ID map, and every scale starts from it (its exact logit) and
        learns corrections, so an untrained network returns the guide and a per-shot finetune
        spends its few steps on what the guide gets wrong instead of matting from nothing.
    """

    slots: int = 10
    embed_dim: int = 8
    dim: int = 64
    heads: int = 4
    layers: int = 2
    refine_dim: int = 32
    uncertain: float = 0.02
    mask_prior: float = 10.0
    guide: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MaggieConfig:
        """Rebuild from :meth:`to_json`; unknown keys (a newer file) are an error, not ignored."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown maggie config keys {sorted(extra)}")
        return cls(**data)


#: A small network for tests: the same parts, narrower.
TINY = MaggieConfig(embed_dim=4, dim=32, heads=2, layers=1, refine_dim=16)
