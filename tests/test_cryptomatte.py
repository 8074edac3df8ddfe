"""Cryptomatte layers: ids per the public specification, decoded independently of the encoder,
and written by `vfxmatte run --cryptomatte` beside the named layers."""

from __future__ import annotations

import json
import struct

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import run_cli

from vfxmatte.demo import make_demo_shot
from vfxmatte.io import cryptomatte


def test_ids_match_the_specifications_examples():
    # The specification's manifest example: {"bunny":"13851a76", "default":"42c9679f"}.
    assert cryptomatte.manifest(["bunny", "default"]) == {
        "bunny": "13851a76",
        "default": "42c9679f",
    }
    bits = struct.unpack("<I", struct.pack("<f", cryptomatte.name_id("bunny")))[0]
    assert f"{bits:08x}" == "13851a76"


def test_exponent_is_clamped_so_no_id_is_inf_nan_or_denormal():
    import mmh3

    clamped = 0
    for i in range(4000):
        name = f"person{i:04d}"
        raw = mmh3.hash(name.encode(), 0, signed=False)
        value = np.float32(cryptomatte.name_id(name))
        assert np.isfinite(value) and (value == 0 or abs(value) >= np.finfo(np.float32).tiny)
        exponent = (raw >> 23) & 0xFF
        if exponent in (0, 255):
            clamped += 1
            assert cryptomatte.name_bits(name) != raw
            assert (cryptomatte.name_bits(name) >> 23) & 0xFF == (1 if exponent == 0 else 254)
        else:
            assert cryptomatte.name_bits(name) == raw
    assert clamped > 0  # the range above does reach both clamps' branch


def test_header_keys_follow_the_specification():
    head = cryptomatte.header(["person01", "person02"])
    key = cryptomatte.metadata_key()
    assert len(key) == 7
    assert head[f"cryptomatte/{key}/name"] == "CryptoPerson"
    assert head[f"cryptomatte/{key}/hash"] == "MurmurHash3_32"
    assert head[f"cryptomatte/{key}/conversion"] == "uint32_to_float32"
    assert set(json.loads(head[f"cryptomatte/{key}/manifest"])) == {"person01", "person02"}


def _overlapping(n: int, size: int = 48, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.random((n, size, size)).astype(np.float32) ** 2
    raw[:, :4] = 0.0  # a strip with nobody
    return raw / np.maximum(raw.sum(0), 1.0)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_encode_then_decode_returns_each_persons_matte(count):
    names = [f"person{i:02d}" for i in range(1, count + 1)]
    alphas = _overlapping(count)
    channels = cryptomatte.encode(alphas, names)
    assert list(channels) == cryptomatte.channel_names(count)
    assert all(c.dtype == np.float32 for c in channels.values())
    head = cryptomatte.header(names)
    for i, name in enumerate(names):
        # Six ranks hold everything up to six people; the seventh's smallest shares are lost.
        tol = 1e-6 if count <= 6 else 0.35
        np.testing.assert_allclose(cryptomatte.decode(channels, head, name), alphas[i], atol=tol)
    first = f"{cryptomatte.TYPENAME}00"
    assert np.all(channels[f"{first}.R"][:4] == 0) and np.all(channels[f"{first}.G"][:4] == 0)
    assert np.all(channels[f"{first}.G"] >= channels[f"{first}.A"])  # ranked by coverage
    with pytest.raises(KeyError):
        cryptomatte.decode(channels, head, "nobody")


def _read_exr(path):
    buf = oiio.ImageBuf(str(path))
    spec = buf.spec()
    pixels = buf.get_pixels(oiio.FLOAT)
    channels = {n: pixels[..., i] for i, n in enumerate(spec.channelnames)}
    attributes = {a.name: a.value for a in spec.extra_attribs}
    formats = {n: str(f) for n, f in zip(spec.channelnames, spec.channelformats, strict=False)}
    return channels, attributes, formats


def test_run_writes_a_cryptomatte_layer_beside_the_named_layers(tmp_path):
    shot = make_demo_shot(tmp_path / "shot", frames=1, width=160, height=90)
    out = tmp_path / "out" / "m.####.exr"
    args = ["run", "--plate", shot.plate, "--out", out, "--device", "cpu", "--threads", "1"]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    proc = run_cli(*args, "--cryptomatte")
    assert proc.returncode == 0, proc.stderr
    channels, attributes, formats = _read_exr(tmp_path / "out" / "m.1001.exr")
    assert "person01.A" in channels and "CryptoPerson00.R" in channels
    assert formats.get("CryptoPerson00.R", "float") == "float"  # ids keep all 32 bits
    for name in shot.masks:
        matte = cryptomatte.decode(channels, attributes, name)
        np.testing.assert_allclose(matte, channels[f"{name}.A"], atol=2e-3)
        assert matte.max() > 0.9


def test_start_line_and_metadata_name_the_colourspace_and_config(tmp_path):
    shot = make_demo_shot(tmp_path / "shot", frames=1, width=96, height=54)
    args = ["run", "--plate", shot.plate, "--out", tmp_path / "o" / "m.####.exr", "--threads", "1"]
    for name, pattern in shot.masks.items():
        args += ["--mask", f"{name}={pattern}"]
    proc = run_cli(*args, "--device", "cpu", "--progress-lines")
    assert proc.returncode == 0, proc.stderr
    start = next(ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines() if "start" in ln)
    assert "colorspace='Linear Rec.709 (sRGB)'" in start  # float EXR: the scene_linear role
    assert "ocio_config=ocio://studio-config-v" in start  # 'latest' pinned to what it was
    _, attributes, _ = _read_exr(tmp_path / "o" / "m.1001.exr")
    assert attributes["vfxmatte:colorspace"] == "Linear Rec.709 (sRGB)"
    assert attributes["vfxmatte:ocio_config"].startswith("ocio://studio-config-v")
