"""The engine contract: tensors in, an :class:`EngineOutput` out, typed options.

An engine never reads files and never knows about frame sequences, colour management or EXR
layers: the pipeline hands it one frame already converted to the encoding it asked for, and the
rough masks of each person. Temporal engines keep state between calls until :meth:`Engine.reset`.
Everything an engine hands back travels in its :class:`EngineOutput` (no side channels), and its
settings are one frozen :class:`EngineOptions` model, so a typo is refused before any frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict


class EngineOptions(BaseModel):
    """Base of every engine's options: frozen, unknown keys refused. Each field has one default
    and a description (shown by ``vfxmatte run --help`` and ``vfxmatte info``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class EngineInput:
    """One frame for an engine.

    image: (3, H, W) float32 on the engine's device, in ``Engine.input_encoding`` (display-referred
        sRGB for every engine so far); values may exceed [0, 1] and engines clamp if they need to.
    masks: (N, H, W) float32 in [0, 1], the rough mask of each person (all zeros = empty mask).
    names: N layer names, in the same order as ``masks``.
    frame: the frame number as in the files (1001 stays 1001).
    clean_plate: optional (3, H, W) known background in the same encoding as ``image``.
    new_shot: True at a cut or the first frame of a chunk: temporal state must not carry over.
    trimaps: optional (N, H, W) given trimaps (1 fg, 0 bg, 0.5 unknown), e.g. from a benchmark's
        own trimaps; engines that cannot use them ignore them.
    """

    image: torch.Tensor
    masks: torch.Tensor
    names: list[str]
    frame: int = 0
    clean_plate: torch.Tensor | None = None
    new_shot: bool = False
    trimaps: torch.Tensor | None = None


@dataclass
class EngineOutput:
    """What one :meth:`Engine.matte` call produced.

    alphas: (N, H, W) float32 in [0, 1], one per mask, on the engine's device.
    cores: (N, H, W) solid foreground of each person (1 = surely theirs), or None when the
        engine does not know; instance consistency keeps other people's alpha out of them.
    diagnostics: whatever helps inspection and benchmarks (trimaps, measured mask offsets,
        coverage...): never needed to produce the matte.
    """

    alphas: torch.Tensor
    cores: torch.Tensor | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)


class Engine(ABC):
    """Base class of every matting engine.

    Subclasses set ``name`` and ``Options`` and implement :meth:`matte`. They must run on CPU
    and, where the algorithm allows, on CUDA with the same code (device-agnostic tensor code, as
    kornia does). ``half_precision`` says whether the engine offers float16 (tests run over it).
    """

    name: ClassVar[str] = "base"
    input_encoding: ClassVar[str] = "srgb"
    Options: ClassVar[type[EngineOptions]] = EngineOptions
    half_precision: ClassVar[bool] = False

    def __init__(
        self, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
    ):
        self.device = torch.device(device)
        self.opts = self.Options.model_validate(dict(options or {}))

    @abstractmethod
    def matte(self, inp: EngineInput) -> EngineOutput:
        """Matte one frame: (N, H, W) alphas (one per mask) plus cores and diagnostics."""

    def reset(self) -> None:  # noqa: B027 - stateless engines have nothing to reset
        """Forget temporal state (called at cuts and chunk starts)."""

    def resolved_options(self) -> dict[str, Any]:
        """Every option with its default filled in (recorded in each output EXR)."""
        return self.opts.model_dump(mode="json")

    @classmethod
    def availability(cls, options: Mapping[str, Any] | None = None) -> tuple[bool, str]:
        """(usable, reason): e.g. (False, "weights not found: ...") for a network without weights.

        ``options`` are the engine options of the job (a ``weights`` path, say), so an engine
        that is unusable by default can still be usable as configured.
        """
        return True, "ready"
