"""The maggie network: image + up to ``slots`` rough masks in, one alpha per instance out.

Data flow for one pass (B frames, K <= slots instances):

    masks --IDEmbedding--> id map --+
    image ------------------------- MaggieEncoder -> 1/2, 1/4, 1/8, 1/16
    PixelDecoder (ConvGRU state at 1/8) -> x8, x4
    InstanceDecoder(x8, masks at 1/8) -> logits at 1/8 (all instances at once) + attention
    Refiner at 1/4 (uncertain pixels) -> Refiner at 1/1 (uncertain pixels) -> alphas

With ``config.guide`` a guide alpha per instance (the guided engine's) goes in too: a second ID
map beside the masks, and at 1/8, 1/4 and 1/1 the logits are the guide's exact logit at that
scale plus the network's correction (carried up from the coarser scale), so the refiners see the
guide's own detail at every scale rather than an upsampled 1/8 estimate.

:func:`run_passes` takes any number of instances and runs them in passes of ``slots``, each pass
with its own recurrent state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vfxmatte.engines.maggie.config import MaggieConfig
from vfxmatte.engines.maggie.decoder import PixelDecoder, conv_bn_relu
from vfxmatte.engines.maggie.encoder import SKIP_CHANNELS, MaggieEncoder
from vfxmatte.engines.maggie.id_embed import IDEmbedding
from vfxmatte.engines.maggie.instance_decoder import InstanceDecoder
from vfxmatte.engines.maggie.refiner import Refiner

_EDGE = 0.01  # sigmoid(l) is rescaled so |l| > ~4.6 gives exactly 0 or 1 (clean cores and holdout)


def to_alpha(logits: torch.Tensor) -> torch.Tensor:
    """Logits -> alphas in [0, 1] that reach 0 and 1 exactly."""
    return ((torch.sigmoid(logits) - _EDGE) / (1.0 - 2.0 * _EDGE)).clamp(0.0, 1.0)


def to_logit(alpha: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`to_alpha` on [0, 1] (finite: 0 and 1 map to about -4.6 and 4.6)."""
    p = _EDGE + alpha.clamp(0.0, 1.0) * (1.0 - 2.0 * _EDGE)
    return torch.log(p) - torch.log1p(-p)


@dataclass
class MaggieOutput:
    """alpha (B,K,H,W) final; logits8/logits4 coarser logits; attn (B,K,h8*w8); state."""

    alpha: torch.Tensor
    logits8: torch.Tensor
    logits4: torch.Tensor
    attn: torch.Tensor
    state: torch.Tensor


class MaggieNet(nn.Module):
    def __init__(self, config: MaggieConfig):
        super().__init__()
        self.config = config
        c = config
        self.id_embed = IDEmbedding(c.slots, c.embed_dim)
        self.guide_embed = IDEmbedding(c.slots, c.embed_dim) if c.guide else None
        self.encoder = MaggieEncoder(c.embed_dim * (2 if c.guide else 1))
        self.decoder = PixelDecoder(SKIP_CHANNELS, c.dim, c.refine_dim)
        self.instances = InstanceDecoder(c.slots, c.dim, c.heads, c.layers, c.mask_prior)
        self.refine4 = Refiner(c.refine_dim, c.refine_dim)
        fine = max(8, c.refine_dim // 2)
        self.fine_feats = conv_bn_relu(c.refine_dim, fine)
        self.refine1 = Refiner(fine + 3, fine)

    def initial_state(self, image: torch.Tensor) -> torch.Tensor:
        """Zero recurrent state for frames like ``image`` (B,3,H,W): a new shot."""
        b, _, h, w = image.shape
        h8, w8 = -(-h // 8), -(-w // 8)
        return image.new_zeros(b, self.decoder.state_channels, h8, w8)

    def forward(
        self,
        image: torch.Tensor,
        masks: torch.Tensor,
        state: torch.Tensor | None = None,
        crop: bool = True,
        guide: torch.Tensor | None = None,
    ) -> MaggieOutput:
        """image (B,3,H,W) sRGB [0,1]; masks (B,K,H,W) in [0,1] with K <= slots (all-zero = empty).

        guide (B,K,H,W): the guide alphas of a ``config.guide`` network (None: the masks stand in);
        ignored by a network without guide.
        """
        if masks.shape[1] > self.config.slots:
            raise ValueError(f"{masks.shape[1]} instances in one pass; use run_passes")
        if state is None:
            state = self.initial_state(image)
        valid = (masks.flatten(2).amax(-1) > 0).to(image.dtype)
        id_map = self.id_embed(masks)
        if self.guide_embed is not None:
            guide = masks if guide is None else guide * valid[..., None, None]
            id_map = torch.cat([id_map, self.guide_embed(guide)], 1)
        else:
            guide = None
        feats = self.encoder(image, id_map)
        x8, x4, state = self.decoder(image, feats, state)
        masks8 = F.adaptive_avg_pool2d(masks, x8.shape[-2:])
        size = image.shape[-2:]
        if guide is None:
            base8 = base4 = base1 = None
            hint4 = F.adaptive_avg_pool2d(masks, x4.shape[-2:])
            hint1 = masks
        else:
            hint4 = F.adaptive_avg_pool2d(guide, x4.shape[-2:])
            hint1 = guide
            base8 = to_logit(F.adaptive_avg_pool2d(guide, x8.shape[-2:]))
            base4, base1 = to_logit(hint4), to_logit(guide)
        logits8, attn = self.instances(x8, masks8, valid, base8)
        u = self.config.uncertain
        up4 = _carry(logits8, base8, base4, x4.shape[-2:])
        logits4 = self.refine4(x4, up4, hint4, u, crop)
        up1 = _carry(logits4, base4, base1, size)
        fine = F.interpolate(self.fine_feats(x4), size=size, mode="bilinear", align_corners=False)
        logits1 = self.refine1(torch.cat([fine, image], 1), up1, hint1, u, crop)
        alpha = to_alpha(logits1) * valid[..., None, None]
        return MaggieOutput(alpha, logits8, logits4, attn, state)


def _carry(logits, base, finer_base, size) -> torch.Tensor:
    """Coarse logits to the next scale: upsampled, or (with a guide) the guide's logit at the
    finer scale plus the upsampled correction, so the guide's detail is not blurred away."""
    if base is None:
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    delta = F.interpolate(logits - base, size=size, mode="bilinear", align_corners=False)
    return finer_base + delta


def run_passes(
    net: MaggieNet,
    image: torch.Tensor,
    masks: torch.Tensor,
    states: list[torch.Tensor] | None = None,
    crop: bool = True,
    guide: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Any number of instances: passes of ``net.config.slots``, each with its own state.

    Returns alphas (B,N,H,W) and the list of per-pass states (pass ``i`` holds instances
    ``i*slots .. i*slots+slots-1``); ``states=None`` starts a new shot.
    """
    slots = net.config.slots
    n = masks.shape[1]
    starts = range(0, max(n, 1), slots)
    chunks = [masks[:, i : i + slots] for i in starts]
    guides = [None if guide is None else guide[:, i : i + slots] for i in starts]
    if states is None or len(states) != len(chunks):
        states = [None] * len(chunks)  # type: ignore[list-item]
    alphas, new_states = [], []
    for chunk, part, state in zip(chunks, guides, states, strict=True):
        out = net(image, chunk, state, crop=crop, guide=part)
        alphas.append(out.alpha)
        new_states.append(out.state)
    return torch.cat(alphas, 1), new_states
