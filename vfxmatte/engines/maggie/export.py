"""ONNX export of a maggie network for one frame size and a full pass of ``slots`` instances.

The graph is one pass: ``image (1,3,H,W)``, ``masks (1,slots,H,W)`` (unused slots all zero, which
the network ignores), ``state (1,C,H/8,W/8)`` (zeros on a new shot), and for a guide network
``guide (1,slots,H,W)`` (the guided engine's alphas) -> ``alpha (1,slots,H,W)``, ``state``. Shapes are fixed at export: the refiners run on the whole frame (``crop=False``, which
gives the same alphas as the cropped path; see :mod:`.refiner`) because ONNX has no
data-dependent crops, and the mask pooling is exported for that size. Export another size for
another working resolution. Uses the TorchScript-based exporter (no onnxscript needed).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from vfxmatte.engines.maggie.model import MaggieNet

OPSET = 17


class _OnePass(nn.Module):
    def __init__(self, net: MaggieNet):
        super().__init__()
        self.net = net

    def forward(self, image, masks, state, guide=None):
        out = self.net(image, masks, state, crop=False, guide=guide)
        return out.alpha, out.state


def example_inputs(net: MaggieNet, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """Zero inputs of the exported shapes (an image, ``slots`` empty masks, a new-shot state,
    and for a guide network ``slots`` empty guide alphas)."""
    image = torch.zeros(1, 3, height, width)
    masks = torch.zeros(1, net.config.slots, height, width)
    extra = (torch.zeros_like(masks),) if net.config.guide else ()
    return (image, masks, net.initial_state(image), *extra)


def export_onnx(net: MaggieNet, path: str | os.PathLike[str], height: int, width: int) -> Path:
    """Write ``path`` for frames of ``height`` x ``width`` (the working resolution)."""
    if height % 16 or width % 16:
        raise ValueError(f"size {width}x{height}: width and height must be multiples of 16")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _OnePass(net.cpu()).eval()  # the exporter restores this mode afterwards
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about Python ints in shapes (fixed here)
        torch.onnx.export(
            model,
            example_inputs(net, height, width),
            str(path),
            input_names=["image", "masks", "state"] + (["guide"] if net.config.guide else []),
            output_names=["alpha", "state_out"],
            opset_version=OPSET,
            dynamo=False,
        )
    return path
