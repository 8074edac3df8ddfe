"""Fast checks of the service's building blocks: path policy, token file, the stdlib-only client,
the Blender add-on's pure helpers, and `vfxmatte serve` argument errors."""

from __future__ import annotations

import ast
import os
import socket
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

from blender_addon import raster, sources
from vfxmatte.errors import BadArgumentError
from vfxmatte.server.auth import load_or_create_token
from vfxmatte.server.paths import PathNotAllowedError, PathPolicy
from vfxmatte_client.client import frame_path
from vfxmatte_client.config import start_command


def test_path_policy(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "shot").mkdir(parents=True)
    outside.mkdir()
    (root / "link").symlink_to(outside)
    policy = PathPolicy([root])
    ok = policy.confine_pattern(str(root / "shot" / "p.####.exr"), "plate")
    assert ok == str(root.resolve() / "shot" / "p.####.exr")
    # a folder that does not exist yet (an output) is checked through its existing parent
    assert policy.confine_pattern(str(root / "new" / "deep" / "m.####.exr"), "out")
    for bad in (
        str(root / ".." / "outside" / "p.####.exr"),
        str(outside / "p.####.exr"),
        str(root / "link" / "p.####.exr"),
        str(root / "link" / "new" / "p.####.exr"),
    ):
        with pytest.raises(PathNotAllowedError):
            policy.confine_pattern(bad, "plate")
    with pytest.raises(BadArgumentError, match="absolute"):
        policy.confine_pattern("relative/p.####.exr", "plate")
    (outside / "p.0001.exr").write_bytes(b"x")
    (root / "shot" / "p.0001.exr").symlink_to(outside / "p.0001.exr")
    with pytest.raises(PathNotAllowedError, match="frame 1"):
        policy.check_files(str(root / "shot" / "p.####.exr"), [1, 2], "plate")
    # inside an upload: relative names only, never out of it
    upload = root / "up"
    upload.mkdir()
    assert policy.confine_pattern("p.####.exr", "plate", base=upload).startswith(str(upload))
    for bad in ("/etc/p.####.exr", "../p.####.exr"):
        with pytest.raises(PathNotAllowedError):
            policy.confine_pattern(bad, "plate", base=upload)
    assert PathPolicy([]).roots == []
    with pytest.raises(PathNotAllowedError, match="--allow-root"):
        PathPolicy([]).confine_pattern(str(root / "p.####.exr"), "plate")


def test_token_file_created_private_and_reused(tmp_path: Path):
    path = tmp_path / "cfg" / "token"
    token = load_or_create_token(path)
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == token
    path.chmod(0o644)
    assert load_or_create_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened


def test_client_package_uses_only_the_standard_library():
    for file in (REPO_ROOT / "vfxmatte_client").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for name in roots:
                assert name in sys.stdlib_module_names or name == "__future__", (file, name)


def test_client_helpers():
    assert frame_path("/a/p.####.exr", 7) == "/a/p.0007.exr"
    assert frame_path("/a/p.%05d.exr", 7) == "/a/p.00007.exr"
    assert frame_path("/a/####_person1.png", 0) == "/a/0000_person1.png"
    assert start_command("http://127.0.0.1:8765").startswith("vfxmatte serve --allow-root")
    assert "--port 9000" in start_command("http://127.0.0.1:9000")
    assert "--host 10.0.0.5" in start_command("http://10.0.0.5:8765")


def test_blender_sources():
    assert sources.sequence_pattern("/c/0000.jpg") == ("/c/####.jpg", 0)
    assert sources.sequence_pattern("/c/plate_v2.1001.exr") == ("/c/plate_v2.####.exr", 1001)
    assert sources.sequence_pattern("/c/still.png") == ("/c/still.png", 0)
    with pytest.raises(sources.SourceError, match="image sequence"):
        sources.sequence_pattern("/c/take1.mp4")
    assert sources.file_frames([1, 2, 3], clip_start=1, clip_offset=0, first_number=0) == {
        1: 0,
        2: 1,
        3: 2,
    }
    assert sources.file_frames([10], clip_start=5, clip_offset=2, first_number=1001) == {10: 1008}


def test_blender_mask_raster():
    square = [
        ((x, y), (x, y), (x, y))
        for x, y in [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    ]
    poly = raster.bezier_polygon(square, cyclic=True, steps=4)
    assert poly.shape == (16, 2)
    # 200x100 frame: mask space is square over the width, centred vertically
    px = raster.mask_to_pixels(poly, 200, 100)
    assert px[:, 0].min() == pytest.approx(50) and px[:, 0].max() == pytest.approx(150)
    assert px[:, 1].min() == pytest.approx(0) and px[:, 1].max() == pytest.approx(100)
    img = raster.fill_polygons([px], 200, 100)
    assert img.dtype == np.uint8 and img[50, 100] == 255 and img[50, 10] == 0
    assert (img > 0).sum() == pytest.approx(100 * 100, rel=0.02)
    # separate splines add up; a tiny polygon misses every pixel centre
    other = raster.mask_to_pixels(
        np.array([[0.0, 0.5], [0.1, 0.5], [0.1, 0.6], [0.0, 0.6]]), 200, 100
    )
    both = raster.fill_polygons([px, other], 200, 100)
    assert (both > 0).sum() > (img > 0).sum()


def test_serve_refuses_bad_arguments(cli, tmp_path: Path):
    res = cli("serve", "--allow-root", str(tmp_path / "nope"), "--token-file", str(tmp_path / "t"))
    assert res.returncode == 2 and "not an existing folder" in res.stderr
    assert "Traceback" not in res.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = cli("serve", "--port", str(port), "--token-file", str(tmp_path / "t"))
    assert res.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in res.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "t").st_mode) == 0o600


def test_client_finds_service_by_url_and_token_file(tmp_path: Path, monkeypatch):
    from vfxmatte_client import ServiceClient, default_config_dir, default_token_file

    monkeypatch.delenv("VFXMATTE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("VFXMATTE_TOKEN_FILE", raising=False)
    monkeypatch.delenv("VFXMATTE_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert default_token_file() == tmp_path / "xdg" / "vfxmatte" / "service-token"
    monkeypatch.setenv("VFXMATTE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert default_config_dir() == tmp_path / "cfg"
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "service-token").write_text("abc\n")
    monkeypatch.setenv("VFXMATTE_URL", "http://127.0.0.1:9999/")
    client = ServiceClient()
    assert (client.url, client.token) == ("http://127.0.0.1:9999", "abc")
    monkeypatch.setenv("VFXMATTE_TOKEN_FILE", str(tmp_path / "other"))
    assert ServiceClient().token == ""  # missing file: the request says how to get one


def test_job_request_carries_video_settings(tmp_path: Path):
    """Pre-roll, temporal strength and keyframes reach the pipeline's job spec unchanged."""
    from vfxmatte.server.app import _build_spec
    from vfxmatte.server.models import JobRequest

    for f in (1000, 1001, 1002):
        (tmp_path / f"p.{f}.exr").write_bytes(b"x")
    (tmp_path / "m.1001.png").write_bytes(b"x")
    req = JobRequest(
        plate=str(tmp_path / "p.####.exr"),
        masks={"a": str(tmp_path / "m.####.png")},
        frames="1001-1002",
        out=str(tmp_path / "o" / "m.####.exr"),
        preroll=1,
        temporal_strength=0.3,
        keyframes=[1001],
    )
    spec, count = _build_spec(req, "j1", PathPolicy([tmp_path]), tmp_path / "w", tmp_path / "u")
    assert count == 2
    assert (spec.preroll, spec.temporal_strength, spec.keyframes) == (1, 0.3, [1001])
    default, _ = _build_spec(
        req.model_copy(update={"temporal_strength": None}),
        "j2",
        PathPolicy([tmp_path]),
        tmp_path / "w",
        tmp_path / "u",
    )
    assert default.temporal_strength == 0.9  # the pipeline's default when the client says nothing
