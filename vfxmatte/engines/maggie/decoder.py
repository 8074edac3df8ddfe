"""The pixel decoder: 1/16 up to 1/8 (with the recurrent state), then 1/8 up to 1/4.

The ConvGRU runs on half of the 1/8 channels, as RVM does at every scale: the other half passes
straight through, so a reset (zero) state never blanks the features. Its state is what the
engine carries from frame to frame; a new shot starts from zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vfxmatte.engines.rvm_net import ConvGRU


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


def upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class PixelDecoder(nn.Module):
    def __init__(self, skips: tuple[int, int, int, int], dim: int, refine_dim: int):
        super().__init__()
        _, s4, s8, s16 = skips
        self.to8 = nn.Sequential(conv_bn_relu(s16 + s8 + 3, dim), conv_bn_relu(dim, dim))
        self.gru = ConvGRU(dim // 2)
        self.to4 = conv_bn_relu(dim + s4 + 3, refine_dim)
        self.state_channels = dim // 2

    def forward(
        self, image: torch.Tensor, feats: list[torch.Tensor], state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (1/8 features (B,dim), 1/4 features (B,refine_dim), new state)."""
        _, f4, f8, f16 = feats
        img8 = F.interpolate(image, size=f8.shape[-2:], mode="area")
        img4 = F.interpolate(image, size=f4.shape[-2:], mode="area")
        x8 = self.to8(torch.cat([upsample_to(f16, f8), f8, img8], 1))
        keep, rec = x8.split(self.state_channels, 1)
        state = self.gru(rec, state)
        x8 = torch.cat([keep, state], 1)
        x4 = self.to4(torch.cat([upsample_to(x8, f4), f4, img4], 1))
        return x8, x4, state
