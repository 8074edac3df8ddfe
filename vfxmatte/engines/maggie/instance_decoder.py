"""The instance decoder: one learnable token per slot, attention, and a dynamic kernel per token.

Each token starts as its slot's learned vector plus the 1/8 features pooled under its rough mask
(so it knows where its person is), then each layer lets tokens read the pixels (token<-pixel
cross-attention), read each other (self-attention, so two people can settle who owns an overlap)
and the pixels read the tokens back. Empty slots (all-zero masks) are masked out as keys
everywhere and their outputs are zeroed, so a pass with 3 people computes the same alphas
whatever fills the other 7 slots. Each token finally becomes a kernel that is dotted with the
pixel features (all instances come out of one pass) and added to a learned multiple of the rough
mask, so the network starts from the mask and learns what to change. Attention is written out (matmul + softmax)
rather than with nn.MultiheadAttention so the token<-pixel weights feed the attention loss and
the graph exports to ONNX with plain operators.
"""

from __future__ import annotations

import torch
from torch import nn

MASK_PRIOR_GAIN = 10.0  # mask 1 -> logit +5, mask 0 -> -5: exactly 1 and 0 after to_alpha
_MASKED = -1.0e4  # large negative instead of -inf: no NaN when every key of a row is masked


def _ramp(n: int, like: torch.Tensor) -> torch.Tensor:
    """n values from -1 to 1 (linspace; written with arange, which ONNX exports as float32)."""
    return torch.arange(n, device=like.device, dtype=like.dtype) * (2.0 / max(n - 1, 1)) - 1.0


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = float(self.head_dim) ** -0.5  # a Python constant, so ONNX keeps it float32
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, key_bias: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B,Q,D) attends to context (B,S,D); key_bias (B,S) is added to the logits.

        Returns (x + attended, weights averaged over heads (B,Q,S)).
        """
        b, q_len, d = x.shape
        s_len = context.shape[1]
        h, hd = self.heads, self.head_dim
        q = self.q(x).view(b, q_len, h, hd).transpose(1, 2)
        k, v = self.kv(context).view(b, s_len, 2, h, hd).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) * self.scale
        if key_bias is not None:
            logits = logits + key_bias[:, None, None, :]
        weights = logits.softmax(-1)
        attended = (weights @ v).transpose(1, 2).reshape(b, q_len, d)
        return self.norm(x + self.out(attended)), weights.mean(1)


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.token_from_pixel = Attention(dim, heads)
        self.token_self = Attention(dim, heads)
        self.pixel_from_token = Attention(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))
        self.ffn_norm = nn.LayerNorm(dim)

    def forward(self, tokens, pixels, slot_bias):
        tokens, attn = self.token_from_pixel(tokens, pixels)
        tokens, _ = self.token_self(tokens, tokens, slot_bias)
        tokens = self.ffn_norm(tokens + self.ffn(tokens))
        pixels, _ = self.pixel_from_token(pixels, tokens, slot_bias)
        return tokens, pixels, attn


class InstanceDecoder(nn.Module):
    def __init__(
        self, slots: int, dim: int, heads: int, layers: int, mask_prior: float = MASK_PRIOR_GAIN
    ):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(slots, dim) * 0.02)
        self.pos = nn.Conv2d(2, dim, 1)  # pixel positions, so tokens can tell left from right
        self.layers = nn.ModuleList(DecoderLayer(dim, heads) for _ in range(layers))
        self.kernel = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim + 1))
        self.pixel_proj = nn.Conv2d(dim * 2, dim, 1)
        # The rough mask as a prior on the logits: an untrained network returns the rough mask
        # (pooled to 1/8, so already soft at its edges) and training learns the corrections.
        # The kernels start near zero so the prior dominates until they have learned something.
        self.mask_gain = nn.Parameter(torch.tensor(float(mask_prior)))
        nn.init.normal_(self.kernel[-1].weight, std=1e-3)
        nn.init.zeros_(self.kernel[-1].bias)

    def forward(
        self,
        x8: torch.Tensor,
        masks8: torch.Tensor,
        valid: torch.Tensor,
        prior: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x8 (B,D,h,w), masks8 (B,K,h,w), valid (B,K) float -> (logits (B,K,h,w), attn (B,K,hw)).

        prior (B,K,h,w): logits to start from (a guide alpha's); None: the scaled rough mask.
        """
        b, d, hh, ww = x8.shape
        k = masks8.shape[1]
        ys = _ramp(hh, x8)
        xs = _ramp(ww, x8)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))[None].expand(b, 2, hh, ww)
        feats = x8 + self.pos(grid)
        pixels = feats.flatten(2).transpose(1, 2)  # (B, hw, D)
        weights = masks8.flatten(2)
        pooled = weights @ pixels / weights.sum(-1, keepdim=True).clamp(min=1e-6)
        tokens = self.tokens[:k][None] + pooled
        slot_bias = (1.0 - valid) * _MASKED
        attn = torch.zeros(b, k, hh * ww, device=x8.device, dtype=x8.dtype)
        for layer in self.layers:
            tokens, pixels, attn = layer(tokens, pixels, slot_bias)
        updated = pixels.transpose(1, 2).reshape(b, d, hh, ww)
        mask_feats = self.pixel_proj(torch.cat([x8, updated], 1))
        kernels = self.kernel(tokens)  # (B, K, D+1): weights and bias
        logits = torch.einsum("bkd,bdhw->bkhw", kernels[..., :d], mask_feats)
        if prior is None:
            prior = self.mask_gain * (masks8 - 0.5)
        logits = logits + kernels[..., d:, None] + prior
        return logits, attn
