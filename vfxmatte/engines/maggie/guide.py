"""The guide alphas a ``guide`` maggie network reads: the guided engine's, computed or read back.

Computing them runs the guided engine (same defaults as ``vfxmatte run --engine guided``), which
on a CPU costs far more than the network itself; a shot whose guided pass has already been
rendered can name those files instead with a template, ``{frame}`` (the frame number, format
specs allowed: ``{frame:04d}``), ``{name}`` (the person's layer name) and ``{index}`` (their
0-based position), e.g. ``guided/alphas/{frame:04d}/{name}.png`` (what ``vfxmatte eval`` writes)
or ``guided.{frame:04d}.exr`` (what ``vfxmatte run`` writes: each person's ``<name>.A`` layer).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vfxmatte.errors import BadArgumentError, MissingInputError


def compute_guide(image: torch.Tensor, masks: torch.Tensor, names: list[str]) -> torch.Tensor:
    """The guided engine's alphas (N,H,W) for image (3,H,W) sRGB and masks (N,H,W)."""
    from vfxmatte.engines.base import EngineInput
    from vfxmatte.engines.guided import GuidedEngine

    inp = EngineInput(image=image, masks=masks, names=list(names), new_shot=True)
    return GuidedEngine(image.device).matte(inp).alphas.clamp(0.0, 1.0)


def guide_path(template: str, frame: int, name: str, index: int) -> Path:
    """The file of one person's guide alpha at one frame; a bad template is a one-line error."""
    try:
        return Path(template.format(frame=frame, name=name, index=index)).expanduser()
    except (KeyError, IndexError, ValueError) as exc:
        raise BadArgumentError(
            f"guide template {template!r}: {exc}; use {{frame}}, {{name}} and {{index}}"
        ) from None


def read_guide(template: str, frame: int, names: list[str], size: tuple[int, int]) -> np.ndarray:
    """Guide alphas (N,H,W) float32 from files; each must exist and match the plate's size."""
    from vfxmatte.io.images import read_image

    out = np.zeros((len(names), *size), np.float32)
    for i, name in enumerate(names):
        path = guide_path(template, frame, name, i)
        if not path.is_file():
            raise MissingInputError(
                f"guide alpha for {name} frame {frame} not found ({path}); render the guided "
                "pass for that frame or drop the guide template"
            )
        alpha = alpha_of(read_image(path, f"guide alpha {name} frame {frame}"), name)
        if alpha.shape != size:
            raise BadArgumentError(
                f"guide alpha {path} is {alpha.shape[1]}x{alpha.shape[0]}, the plate "
                f"{size[1]}x{size[0]}; render the guided pass at the plate's size"
            )
        out[i] = np.clip(alpha, 0.0, 1.0)
    return out


def alpha_of(image, name: str) -> np.ndarray:
    """A person's alpha in a file: ``<name>.A`` (a vfxmatte EXR), else ``A``, else grey."""
    for channel in (f"{name}.A", "A"):
        if channel in image.channels:
            return image.channel(channel)
    return image.single_channel()


def guide_for(
    image: torch.Tensor, masks: torch.Tensor, names: list[str], frame: int, template: str | None
) -> torch.Tensor:
    """Read the guide through ``template`` when given, else compute it (on image's device)."""
    if template:
        values = read_guide(template, frame, names, tuple(image.shape[-2:]))
        return torch.from_numpy(values).to(image.device)
    return compute_guide(image, masks, names)
