"""The engine contract: tensors in, per-instance alphas out.

An engine never reads files and never knows about frame sequences, colour management or EXR
layers: the pipeline hands it one frame already converted to the encoding it asked for, and the
rough masks of each person. Temporal engines keep state between calls until :meth:`Engine.reset`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch


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
    """

    image: torch.Tensor
    masks: torch.Tensor
    names: list[str]
    frame: int = 0
    clean_plate: torch.Tensor | None = None
    new_shot: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


class Engine(ABC):
    """Base class of every matting engine.

    Subclasses set ``name`` and implement :meth:`matte`. They must run on CPU and, where the
    algorithm allows, on CUDA with the same code (device-agnostic tensor code, as kornia does).
    """

    name: ClassVar[str] = "base"
    input_encoding: ClassVar[str] = "srgb"
    temporal: ClassVar[bool] = False

    def __init__(
        self, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
    ):
        self.device = torch.device(device)
        self.options: dict[str, Any] = dict(options or {})

    @abstractmethod
    def matte(self, inp: EngineInput) -> torch.Tensor:
        """Return (N, H, W) float32 alphas in [0, 1], one per mask, on ``self.device``."""

    def reset(self) -> None:  # noqa: B027 - stateless engines have nothing to reset
        """Forget temporal state (called at cuts and chunk starts)."""

    @classmethod
    def availability(cls, options: Mapping[str, Any] | None = None) -> tuple[bool, str]:
        """(usable, reason): e.g. (False, "weights not found: ...") for a network without weights.

        ``options`` are the engine options of the job (a ``weights`` path, say), so an engine
        that is unusable by default can still be usable as configured.
        """
        return True, "ready"
