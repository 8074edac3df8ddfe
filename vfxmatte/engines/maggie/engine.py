"""The ``maggie`` engine: the adapter from the engine contract to :class:`MaggieNet`.

Options (engine ``options`` mapping; ``vfxmatte run --engine maggie --weights shot.safetensors``):
    weights    a maggie ``.safetensors`` checkpoint (required: from ``vfxmatte train`` or
               ``vfxmatte finetune``; the network is rebuilt from the config inside it)
    long_side  working scale: the long side the network sees, in px (default: the scale the
               checkpoint was trained at, ``maggie:long_side`` in its metadata, else 960); the
               alphas are upsampled back to the plate's size
    crop       "true" (default) refines uncertain pixels on crops; "false" runs the refiners on
               the whole frame (same result, slower; what the ONNX export does)

More than ``slots`` (10) people run in passes of 10, each pass with its own recurrent state; the
state is dropped on ``new_shot`` and whenever the people or the frame size change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vfxmatte.engines.base import Engine, EngineInput
from vfxmatte.errors import BadArgumentError

DEFAULT_LONG_SIDE = 960


class MaggieEngine(Engine):
    """Instance tokens and progressive refinement; learns from the user's checkpoints."""

    name = "maggie"
    input_encoding = "srgb"
    temporal = True

    def __init__(
        self, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
    ):
        super().__init__(device, options)
        from vfxmatte.engines.maggie import checkpoint

        weights = self.options.get("weights")
        if not weights:
            raise BadArgumentError(
                "engine maggie needs --weights shot.safetensors (from vfxmatte train/finetune)"
            )
        ckpt = checkpoint.load(weights)
        self.net = ckpt.net.to(self.device).eval()
        self.metadata = ckpt.metadata
        default = int(ckpt.metadata.get("maggie:long_side", DEFAULT_LONG_SIDE))
        try:
            self.long_side = int(self.options.get("long_side", default))
        except (TypeError, ValueError):
            raise BadArgumentError(
                f"maggie long_side={self.options.get('long_side')!r}: expected pixels, e.g. 960"
            ) from None
        if self.long_side < 64:
            raise BadArgumentError(f"maggie long_side={self.long_side}: at least 64 px")
        self.crop = str(self.options.get("crop", "true")).lower() not in ("false", "0", "no")
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

    def matte(self, inp: EngineInput) -> torch.Tensor:
        from vfxmatte.engines.maggie.model import run_passes

        image = inp.image.to(self.device).clamp(0.0, 1.0)[None]
        masks = inp.masks.to(self.device)[None]
        h, w = image.shape[-2:]
        scale = min(1.0, self.long_side / float(max(h, w)))
        if scale < 1.0:
            size = (max(16, round(h * scale)), max(16, round(w * scale)))
            image = F.interpolate(image, size=size, mode="area")
            masks = F.interpolate(masks, size=size, mode="area")
        key = (tuple(inp.names), tuple(image.shape[-2:]))
        if inp.new_shot or key != self._key:
            self._states = None
        self._key = key
        with torch.no_grad():
            alphas, self._states = run_passes(self.net, image, masks, self._states, self.crop)
        if scale < 1.0:
            alphas = F.interpolate(alphas, size=(h, w), mode="bilinear", align_corners=False)
        return alphas[0].clamp(0.0, 1.0).float()
