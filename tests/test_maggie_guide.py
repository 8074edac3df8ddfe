"""maggie with a guide input (the guided engine's alphas): starts as the guide, learns corrections.

TINY network with random weights at small sizes: an untrained guide network must hand back its
guide (so a short finetune starts from the guided engine's quality, not from nothing), the guide
must actually steer the output, the engine must keep the guide's full-resolution detail where the
network changes nothing, and the guide travels through checkpoints and the ONNX export.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.engines.maggie import checkpoint
from vfxmatte.engines.maggie.config import TINY
from vfxmatte.engines.maggie.engine import MaggieEngine
from vfxmatte.engines.maggie.model import MaggieNet, to_alpha, to_logit

H, W = 96, 128
GUIDED = replace(TINY, guide=True)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(2)
    return MaggieNet(GUIDED).eval()


def _scene(seed: int = 0):
    """An image with two soft discs and rough box masks around them; the guide is the discs."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    discs = []
    for cy, cx in ((40, 36), (52, 88)):
        r = ((yy - cy) ** 2 + (xx - cx) ** 2).float().sqrt()
        discs.append((24.0 - r).clamp(0, 3) / 3.0)
    guide = torch.stack(discs)[None]
    masks = (F.max_pool2d(guide, 5, 1, 2) > 0).float()
    bg = torch.rand(1, 3, H, W, generator=g) * 0.3
    image = bg * (1 - guide.amax(1, keepdim=True)) + 0.8 * guide.amax(1, keepdim=True)
    return image, masks, guide


def test_logit_is_the_inverse_of_alpha():
    a = torch.linspace(0, 1, 101)
    assert torch.allclose(to_alpha(to_logit(a)), a, atol=1e-5)


def test_untrained_guide_network_returns_its_guide(net, one_torch_thread):
    image, masks, guide = _scene()
    with torch.no_grad():
        alpha = net(image, masks, guide=guide).alpha
    # measured 0.004 (kernels and refiner heads start near zero); rough-mask prior gives ~0.5
    assert (alpha - guide).abs().max() < 0.03


def test_the_guide_steers_the_output(net, one_torch_thread):
    image, masks, guide = _scene()
    other = torch.flip(guide, (-1,)) * masks
    with torch.no_grad():
        a = net(image, masks, guide=guide).alpha
        b = net(image, masks, guide=other).alpha
    assert (a - b).abs().max() > 0.5


def test_engine_keeps_full_resolution_guide_detail(net, tmp_path, one_torch_thread):
    path = checkpoint.save(tmp_path / "g.safetensors", net)
    image, masks, _ = _scene(1)
    inp = EngineInput(image=image[0], masks=masks[0], names=["a", "b"], new_shot=True)
    guided = GuidedEngine("cpu").matte(inp).alphas
    engine = MaggieEngine("cpu", {"weights": str(path), "long_side": 64})
    maggie = engine.matte(inp).alphas
    # A plain down/up-sampling of the guide through the 64 px working scale loses its edges:
    blurred = F.interpolate(
        F.interpolate(guided[None], size=(48, 64), mode="area"),
        size=(H, W),
        mode="bilinear",
        align_corners=False,
    )[0]
    assert (blurred - guided).abs().max() > 0.1
    assert (maggie - guided).abs().max() < 0.03


def test_guide_checkpoint_and_onnx_round_trip(net, tmp_path, one_torch_thread):
    ort = pytest.importorskip("onnxruntime")
    from vfxmatte.engines.maggie.export import export_onnx

    loaded = checkpoint.load(checkpoint.save(tmp_path / "g.safetensors", net)).net
    assert loaded.config.guide
    image, masks, guide = _scene(2)
    slots = torch.zeros(1, GUIDED.slots, H, W)
    full_masks, full_guide = slots.clone(), slots.clone()
    full_masks[:, :2], full_guide[:, :2] = masks, guide
    with torch.no_grad():
        ref = net(image, full_masks, crop=False, guide=full_guide)
        assert torch.equal(ref.alpha, loaded(image, full_masks, crop=False, guide=full_guide).alpha)
    path = export_onnx(net, tmp_path / "g.onnx", H, W)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {
        "image": image.numpy(),
        "masks": full_masks.numpy(),
        "state": net.initial_state(image).numpy(),
        "guide": full_guide.numpy(),
    }
    alpha, _ = session.run(None, feeds)
    np.testing.assert_allclose(alpha, ref.alpha.numpy(), atol=1e-4, rtol=0)


def test_guide_template_reads_files_and_names_what_is_missing(tmp_path):
    import OpenImageIO as oiio

    from vfxmatte.engines.maggie.guide import read_guide
    from vfxmatte.errors import BadArgumentError, MissingInputError

    alpha = np.linspace(0, 1, 6 * 8, dtype=np.float32).reshape(6, 8)
    (tmp_path / "0007").mkdir()
    buf = oiio.ImageBuf(oiio.ImageSpec(8, 6, 1, "uint16"))
    buf.set_pixels(oiio.ROI(), alpha[..., None])
    assert buf.write(str(tmp_path / "0007" / "anna.png"))
    template = str(tmp_path / "{frame:04d}" / "{name}.png")
    got = read_guide(template, 7, ["anna"], (6, 8))
    np.testing.assert_allclose(got[0], alpha, atol=1e-4)
    with pytest.raises(MissingInputError, match="bob frame 7"):
        read_guide(template, 7, ["anna", "bob"], (6, 8))
    with pytest.raises(BadArgumentError, match="plate 16x6"):
        read_guide(template, 7, ["anna"], (6, 16))
    with pytest.raises(BadArgumentError, match="use {frame}"):
        read_guide(str(tmp_path / "{shot}.png"), 7, ["anna"], (6, 8))
