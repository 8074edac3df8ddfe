"""The encoder: RVM's MobileNetV3-Large reading RGB plus the ID-embedded mask map.

It is the very module of :mod:`vfxmatte.engines.rvm_net` (so RVM's weights load into it by name)
with the stem convolution widened from 3 to ``3 + embed_dim`` input channels. The widened stem
keeps RVM's RGB filters and starts the embedding channels at zero, so an initialised encoder
computes exactly RVM's features on the first step and learns to use the masks from there.
Skip features come out at 1/2 (16 ch), 1/4 (24), 1/8 (40) and 1/16 (LR-ASPP, 128).
"""

from __future__ import annotations

import torch
from torch import nn

from vfxmatte.engines.rvm_net import LRASPP, MobileNetV3Encoder

SKIP_CHANNELS = (16, 24, 40, 128)
_TAPS = {1: 0, 3: 1, 6: 2}


class MaggieEncoder(nn.Module):
    def __init__(self, embed_dim: int):
        super().__init__()
        self.backbone = MobileNetV3Encoder()
        stem = self.backbone.features[0][0]
        wide = nn.Conv2d(3 + embed_dim, stem.out_channels, 3, 2, 1, bias=False)
        with torch.no_grad():
            wide.weight.zero_()
            wide.weight[:, :3] = stem.weight
        self.backbone.features[0][0] = wide
        self.aspp = LRASPP(960, 128)

    def load_rvm(self, rvm_state: dict[str, torch.Tensor]) -> list[str]:
        """Copy RVM's backbone and LR-ASPP weights in; returns the names initialised.

        The stem's RGB filters come from RVM, its embedding filters are set to zero.
        """
        own = self.state_dict()
        loaded = []
        for name, value in rvm_state.items():
            if not name.startswith(("backbone.", "aspp.")) or name not in own:
                continue
            if name == "backbone.features.0.0.weight":
                wide = torch.zeros_like(own[name])
                wide[:, :3] = value
                value = wide
            if own[name].shape != value.shape:
                raise ValueError(f"RVM weight {name} has shape {tuple(value.shape)}")
            own[name] = value
            loaded.append(name)
        self.load_state_dict(own)
        return loaded

    def forward(self, image: torch.Tensor, id_map: torch.Tensor) -> list[torch.Tensor]:
        """image (B,3,H,W) sRGB in [0,1], id_map (B,E,H,W) -> features at 1/2, 1/4, 1/8, 1/16."""
        x = torch.cat([(image - self.backbone.mean) / self.backbone.std, id_map], 1)
        out: list[torch.Tensor] = []
        for i, layer in enumerate(self.backbone.features):
            x = layer(x)
            if i in _TAPS:
                out.append(x)
        out.append(self.aspp(x))
        return out
