"""`vfxmatte synth`: layout, truth after occlusion, faults with known answers, reproducibility."""

import filecmp
import json

import cv2
import numpy as np
from conftest import run_cli, run_cli_in_process

from vfxmatte.evaluation.dataset import discover, load
from vfxmatte.synth import faults as F
from vfxmatte.synth.build import build_set
from vfxmatte.synth.placement import composite
from vfxmatte.synth.recipe import Recipe


def _foregrounds(folder):
    """Two tiny foregrounds in the alphamatting layout: a disc and a ring with a hole."""
    (folder / "images").mkdir(parents=True)
    (folder / "alphas").mkdir()
    yy, xx = np.mgrid[:80, :60]
    r = np.hypot(yy - 40, xx - 30)
    for name, alpha, colour in (
        ("disc", np.clip(26 - r, 0, 1), (40, 200, 60)),
        ("ring", np.clip(26 - r, 0, 1) * np.clip(r - 10, 0, 1), (200, 60, 40)),
    ):
        cv2.imwrite(str(folder / "images" / f"{name}.png"), np.full((80, 60, 3), colour, np.uint8))
        cv2.imwrite(str(folder / "alphas" / f"{name}.png"), np.rint(alpha * 255).astype(np.uint8))
    return folder


def _recipe(fg, **kw):
    values = dict(
        foregrounds=[str(fg)],
        procedural_backgrounds=2,
        width=128,
        height=96,
        single=2,
        multi=2,
        clips=1,
        frames=4,
        seed=3,
    )
    values.update(kw)
    return Recipe(**values)


def test_set_layout_truth_and_discovery(tmp_path):
    fg = _foregrounds(tmp_path / "fg")
    manifest = build_set(_recipe(fg), tmp_path / "set")
    root = tmp_path / "set"
    for kind in ("single", "multi"):
        ds = discover(root / kind)
        assert ds.kind == "images" and len(ds.samples) == 2
    clips = discover(root / "clips")
    assert clips.kind == "clips" and len(clips.samples) == 4
    s = load(clips.samples[0])
    assert s.image.shape == (96, 128, 3) and 2 <= len(s.names) <= 5
    assert (
        s.truths.sum(0).max() <= 1.0 + 2 / 255
    )  # visible alphas after occlusion never overlap past 1
    assert all(b.startswith("procedural") for b in manifest["backgrounds_used"])
    assert json.loads((root / "recipe.json").read_text())["seed"] == 3


def test_recipe_rebuilds_byte_identical(tmp_path):
    fg = _foregrounds(tmp_path / "fg")
    build_set(_recipe(fg), tmp_path / "a")
    proc = run_cli("synth", tmp_path / "b", "--recipe", tmp_path / "a" / "recipe.json")
    assert proc.returncode == 0, proc.stderr
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for sub in ("single/images", "clips/clip0000/frames"):
        files = sorted((tmp_path / "a" / sub).iterdir())
        assert files and all(filecmp.cmp(f, tmp_path / "b" / sub / f.name, False) for f in files)
    other = run_cli(
        "synth",
        tmp_path / "c",
        "--foregrounds",
        fg,
        "--procedural",
        "2",
        "--width",
        "128",
        "--height",
        "96",
        "--single",
        "2",
        "--multi",
        "0",
        "--clips",
        "0",
        "--seed",
        "4",
    )
    assert other.returncode == 0, other.stderr
    assert not filecmp.cmp(
        tmp_path / "a/single/images/single0000.png",
        tmp_path / "c/single/images/single0000.png",
        False,
    )


def test_composite_occludes_back_layer():
    bg = np.zeros((4, 4, 3), np.float32)
    back = (np.ones((4, 4, 3), np.float32), np.full((4, 4), 1.0, np.float32))
    front = (np.zeros((4, 4, 3), np.float32), np.full((4, 4), 0.25, np.float32))
    image, visible = composite(bg, [back, front])
    assert np.allclose(visible[0], 0.75) and np.allclose(visible[1], 0.25)
    assert np.allclose(image, 0.75)  # sRGB over: 0.25 * 0 + 0.75 * 1


def test_faults_known_answers():
    ring = np.zeros((60, 60), np.uint8)
    cv2.circle(ring, (30, 30), 20, 1, -1)
    cv2.circle(ring, (30, 30), 8, 0, -1)
    assert ring[30, 30] == 0 and F.fill_holes(ring)[30, 30] == 1
    hole = np.zeros_like(ring)
    cv2.circle(hole, (30, 30), 8, 1, -1)
    assert np.array_equal(F.fill_holes(ring), ring | hole)
    assert F.grow(ring, 3).sum() > ring.sum() > F.grow(ring, -3).sum()
    assert F.shift(ring, 5, 0)[30, 52] == 1 and ring[30, 52] == 0
    limb = np.zeros((60, 60), np.uint8)
    cv2.circle(limb, (20, 30), 12, 1, -1)
    cv2.rectangle(limb, (20, 28), (55, 32), 1, -1)  # an arm sticking out to the right
    cut = F.cut_limb(limb, 6, 0.5)
    assert cut[30, 55] == 0 and cut[30, 20] == 1
    blob = F.blobby(ring, 8)
    assert blob[30, 30] == 1  # a coarse mask loses the small hole
    f = F.MaskFaults(threshold=0.5, jitter_px=2.0)
    alpha = ring.astype(np.float32)
    a, b = (F.rough_mask(alpha, f, np.random.default_rng(k)) for k in (1, 2))
    assert not np.array_equal(a, b)  # per-frame jitter differs between frames


def test_id_swap_draw():
    swaps = [F.swap_frame(np.random.default_rng(k), 1.0, 10, 3) for k in range(5)]
    assert all(1 <= s["frame"] < 10 and s["a"] != s["b"] for s in swaps)
    assert F.swap_frame(np.random.default_rng(0), 0.0, 10, 3) == {}


def test_cli_errors_are_one_line(tmp_path, one_torch_thread):
    # Refused before any work: in this process, without three ~4 s process starts.
    run = run_cli_in_process
    proc = run("synth", tmp_path / "o", "--foregrounds", tmp_path / "nope", "--procedural", "1")
    assert proc.returncode == 3 and "foreground folder not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    fg = _foregrounds(tmp_path / "fg")
    proc = run("synth", tmp_path / "o", "--foregrounds", fg)
    assert proc.returncode == 2 and "no backgrounds" in proc.stderr
    proc = run(
        "synth", tmp_path / "o", "--foregrounds", fg, "--procedural", "1", "--fault", "grow=3"
    )
    assert proc.returncode == 2 and "faults.grow" in proc.stderr
