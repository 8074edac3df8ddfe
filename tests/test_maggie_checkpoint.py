"""maggie checkpoints (safetensors round trip, resume state, clear errors) and ONNX parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vfxmatte.engines.maggie import checkpoint
from vfxmatte.engines.maggie.config import TINY, MaggieConfig
from vfxmatte.engines.maggie.model import MaggieNet
from vfxmatte.errors import BadArgumentError, EngineError

H, W = 32, 48
ONNX_ATOL = 1e-4  # measured 1.2e-7 on alphas, 9e-9 on the state (TINY, random weights)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, H, W, generator=g)
    masks = torch.zeros(1, TINY.slots, H, W)
    masks[0, 0, 4:24, 6:20] = 1.0
    masks[0, 1, 10:30, 22:40] = 1.0
    return image, masks


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(1)
    return MaggieNet(TINY).eval()


def test_round_trip_gives_identical_outputs(net, tmp_path, one_torch_thread):
    path = checkpoint.save(tmp_path / "a.safetensors", net, step=7, metadata={"note": "x"})
    loaded = checkpoint.load(path)
    assert loaded.step == 7 and loaded.metadata["note"] == "x"
    assert loaded.net.config == TINY
    image, masks = _inputs()
    with torch.no_grad():
        assert torch.equal(net(image, masks).alpha, loaded.net(image, masks).alpha)


def test_optimizer_state_survives_for_resume(net, tmp_path):
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    path = checkpoint.save(tmp_path / "b.safetensors", net, 1, optimizer=opt.state_dict())
    state = checkpoint.load(path, with_optimizer=True).optimizer
    fresh = torch.optim.AdamW(net.parameters(), lr=1e-3)
    fresh.load_state_dict(state)
    first = next(iter(opt.state.values()))["exp_avg_sq"]
    assert torch.equal(next(iter(fresh.state.values()))["exp_avg_sq"], first)


def test_config_round_trip_refuses_unknown_keys():
    assert MaggieConfig.from_json(TINY.to_json()) == TINY
    with pytest.raises(ValueError, match="unknown"):
        MaggieConfig.from_json('{"slots": 10, "colour": 3}')


def test_missing_and_foreign_files_are_one_line_errors(tmp_path):
    with pytest.raises(BadArgumentError, match="no such file"):
        checkpoint.load(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="cannot read"):
        checkpoint.load(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(EngineError, match="not a maggie checkpoint"):
        checkpoint.load(other)


def test_onnx_export_matches_torch(net, tmp_path, one_torch_thread):
    ort = pytest.importorskip("onnxruntime")
    from vfxmatte.engines.maggie.export import export_onnx

    path = export_onnx(net, tmp_path / "m.onnx", H, W)
    assert not net.training  # the exporter must not leave batch norms in training mode
    image, masks = _inputs(3)
    state = net.initial_state(image)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = net(image, masks, state, crop=False)
        ref2 = net(image, masks, ref.state, crop=False)
    alpha, state_out = session.run(
        None, {"image": image.numpy(), "masks": masks.numpy(), "state": state.numpy()}
    )
    np.testing.assert_allclose(alpha, ref.alpha.numpy(), atol=ONNX_ATOL, rtol=0)
    np.testing.assert_allclose(state_out, ref.state.numpy(), atol=ONNX_ATOL, rtol=0)
    alpha2, _ = session.run(
        None, {"image": image.numpy(), "masks": masks.numpy(), "state": state_out}
    )
    np.testing.assert_allclose(alpha2, ref2.alpha.numpy(), atol=ONNX_ATOL, rtol=0)
