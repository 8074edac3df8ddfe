"""The ``maggie`` engine: the adapter from the engine contract to :class:`MaggieNet`.

``vfxmatte run --engine maggie --weights shot.safetensors``: the network is rebuilt from the
config inside the checkpoint (from ``vfxmatte train`` or ``vfxmatte finetune``). More than
``slots`` (10) people run in passes of 10, each pass with its own recurrent state; the state is
dropped on ``new_shot`` and whenever the people or the frame size change.

A checkpoint made with a guide (``finetune --guide``) runs the guided engine on the full plate
first (or reads the shot's rendered guided pass, option ``guide``: a template); the network reads its alphas at the working scale and its correction (its alpha minus the
guide's, at that scale) is upsampled and added to the full-resolution guide, so where the network
changes nothing the result is the guided engine's, detail included.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from vfxmatte.engines.base import Engine, EngineInput, EngineOptions, EngineOutput
from vfxmatte.errors import BadArgumentError

DEFAULT_LONG_SIDE = 960


class MaggieOptions(EngineOptions):
    """Settings of the maggie engine."""

    weights: str | None = Field(
        None, description="a maggie .safetensors checkpoint (required; vfxmatte train/finetune)"
    )
    long_side: int | None = Field(
        None,
        ge=64,
        description="long side the network sees, px (default: the checkpoint's training scale, "
        f"else {DEFAULT_LONG_SIDE}); alphas are upsampled back to the plate",
    )
    guide: str | None = Field(
        None,
        description="guide networks: the shot's rendered guided pass, a template with {frame}, "
        "{name}, {index} (default: run the guided engine on each frame)",
    )
    crop: bool = Field(
        True,
        description="refine uncertain pixels on crops (false: whole frame, same result, slower)",
    )


class MaggieEngine(Engine):
    """Instance tokens and progressive refinement; learns from the user's checkpoints."""

    name = "maggie"
    input_encoding = "srgb"
    Options = MaggieOptions
    opts: MaggieOptions

    def __init__(
        self, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
    ):
        super().__init__(device, options)
        from vfxmatte.engines.maggie import checkpoint

        if not self.opts.weights:
            raise BadArgumentError(
                "engine maggie needs --weights shot.safetensors (from vfxmatte train/finetune)"
            )
        ckpt = checkpoint.load(self.opts.weights)
        self.net = ckpt.net.to(self.device).eval()
        self.metadata = ckpt.metadata
        default = int(ckpt.metadata.get("maggie:long_side", DEFAULT_LONG_SIDE))
        self.long_side = self.opts.long_side or default
        self.crop = self.opts.crop
        self._states: list[torch.Tensor] | None = None
        self._key: tuple | None = None

    @classmethod
    def availability(cls, options: Mapping[str, Any] | None = None) -> tuple[bool, str]:
        try:
            import safetensors  # noqa: F401
        except ImportError:
            return False, "needs the safetensors package (pip install -r requirements.txt)"
        weights = (options or {}).get("weights")
        if weights and not Path(str(weights)).expanduser().is_file():
            return False, f"weights not found: {weights}"
        return True, "needs --weights from vfxmatte train or finetune"

    def reset(self) -> None:
        self._states = None

    def matte(self, inp: EngineInput) -> EngineOutput:
        from vfxmatte.engines.maggie.guide import guide_for
        from vfxmatte.engines.maggie.model import run_passes

        image = inp.image.to(self.device).clamp(0.0, 1.0)[None]
        masks = inp.masks.to(self.device)[None]
        guide_full = None
        if self.net.config.guide:
            plate = inp.image.to(self.device)  # as the guided engine itself would get it
            guide_full = guide_for(plate, masks[0], inp.names, inp.frame, self.opts.guide)[None]
        guide = guide_full
        h, w = image.shape[-2:]
        scale = min(1.0, self.long_side / float(max(h, w)))
        if scale < 1.0:
            size = (max(16, round(h * scale)), max(16, round(w * scale)))
            image, masks = (F.interpolate(x, size=size, mode="area") for x in (image, masks))
            if guide is not None:
                guide = F.interpolate(guide, size=size, mode="area")
        key = (tuple(inp.names), tuple(image.shape[-2:]))
        if inp.new_shot or key != self._key:
            self._states = None
        self._key = key
        with torch.no_grad():
            alphas, self._states = run_passes(
                self.net, image, masks, self._states, self.crop, guide
            )
        if guide is not None and guide_full is not None:
            alphas = alphas - guide  # the correction, added to the full-resolution guide below
        if scale < 1.0:
            alphas = F.interpolate(alphas, size=(h, w), mode="bilinear", align_corners=False)
        if guide_full is not None:
            alphas = alphas + guide_full
        return EngineOutput(alphas=alphas[0].clamp(0.0, 1.0).float())
