"""`vfxmatte eval --folds` and `--noref`: the protocol's guards and table, and the file check."""

import json

import cv2
import numpy as np
import pytest
from conftest import run_cli

from vfxmatte.evaluation.folds import HALVES, FoldConfig, render_folds, synth_recipe
from vfxmatte.evaluation.sheet import crop_box, layer_sheet, over_green
from vfxmatte.io.images import Window, write_exr


def test_halves_are_a_fixed_disjoint_split_of_the_twelve():
    a, b = set(HALVES["A"]), set(HALVES["B"])
    assert len(a) == len(b) == 6 and not a & b


def test_synth_check_sets_use_the_check_half_and_unseen_backgrounds(tmp_path):
    r = synth_recipe(tmp_path, "B", 1000, FoldConfig())
    assert r.foreground_names == list(HALVES["B"])
    assert r.backgrounds == [] and r.procedural_backgrounds > 0


def test_render_folds_shows_mean_and_worst_per_part():
    stats = {
        "m": {
            "samples": 2, "sad_mean": 1.0, "sad_worst": 3.0, "sad_worst_sample": "x",
            "mad_mean": 2.0, "mad_worst": 4.0, "mad_worst_sample": "y", "leak_mean": None,
        }
    }  # fmt: skip
    fold = {
        "fold": "fold1", "tune": {"half": "A", "stats": stats},
        "check": {"half": "B", "stats": stats}, "synth": [{"seed": 7, "stats": stats}],
        "synth_all": stats,
    }  # fmt: skip
    text = render_folds({"methods": ["m"], "folds": [fold]})
    assert "| fold1 | synth seed 7 | 2 | 1.00 / 3.00 | x |" in text
    assert "| fold1 | check B | 2 | 2.00 / 4.00 | y |" in text
    assert "| fold1 | synth all seeds | - |" in text  # leakage: none with one instance


def test_folds_refuses_a_set_that_is_not_the_dev_photographs(tmp_path):
    root = tmp_path / "set"
    for sub in ("images", "alphas/GT01", "masks/GT01"):
        (root / sub).mkdir(parents=True)
    px = np.zeros((8, 8), np.uint8)
    for path in ("images/GT01.png", "alphas/GT01/00.png", "masks/GT01/00.png"):
        cv2.imwrite(str(root / path), px)
    proc = run_cli("eval", root, "--folds", "--engine", "none", "--baseline", "mask",
                   "--out", tmp_path / "o")  # fmt: skip
    assert proc.returncode == 2 and "needs the 12 dev photographs" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_folds_protocol_end_to_end_with_the_mask_baseline(shared_data, tmp_path):
    proc = run_cli("eval", shared_data / "dev-sets" / "single", "--folds", "--synth-seeds", "1",
                   "--engine", "none", "--baseline", "mask", "--out", tmp_path / "o")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "o" / "folds.json").read_text())
    assert [f["fold"] for f in results["folds"]] == ["fold1", "fold2"]
    fold1 = results["folds"][0]
    assert fold1["check"]["stats"]["mask"]["samples"] == 6
    assert fold1["synth"][0]["stats"]["mask"]["samples"] == 8
    manifest = json.loads((tmp_path / "o/synth/fold1/seed1000/manifest.json").read_text())
    used = {i["foreground"] for r in manifest["multi"] for i in r["instances"].values()}
    assert used <= set(HALVES["B"])
    assert all(b.startswith("procedural") for b in manifest["backgrounds_used"])
    assert "| fold2 | check A | 6 |" in proc.stdout


def test_noref_on_run_outputs_beside_the_plate(tmp_path):
    h, w = 90, 120
    yy, xx = np.mgrid[:h, :w]
    plate = np.zeros((h, w, 3), np.float32) + (0.2, 0.5, 0.7)
    disc = np.hypot(yy - 45, xx - 40) < 20
    plate[disc] = (0.9, 0.2, 0.1)
    cv2.imwrite(str(tmp_path / "plate.0001.png"), np.rint(plate[..., ::-1] * 255).astype(np.uint8))
    alpha = disc.astype(np.float32)
    alpha[10:20, 95:105] = 0.5  # a ghost over plain background
    win = Window(0, 0, w, h)
    write_exr(tmp_path / "out.0001.exr", {"person01.A": alpha, "A": alpha}, win, win)
    proc = run_cli("eval", tmp_path / "out.####.exr", "--noref", "--plate",
                   tmp_path / "plate.####.png", "--out", tmp_path / "nr")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "nr" / "noref.json").read_text())["rows"]
    assert rows[0]["instance"] == "person01" and rows[0]["frame"] == 1
    assert rows[0]["detached"] == pytest.approx(0.05, abs=1e-3)
    assert rows[0]["background_like"] == pytest.approx(0.05, abs=5e-3)
    sheet = cv2.imread(str(tmp_path / "nr" / "layers.png"))[..., ::-1]  # plate, layer, 1:1 crop
    assert sheet.shape[1] == 3 * 320
    layer = sheet[40:, 320:640].reshape(-1, 3).astype(int)  # below the label strip
    assert (np.abs(layer - (0, 255, 0)).sum(1) < 6).mean() > 0.5  # green where alpha is 0
    assert (np.abs(layer - (230, 51, 26)).sum(1) < 12).any()  # the disc's plate colour
    missing = run_cli("eval", tmp_path / "out.####.exr", "--noref", "--out", tmp_path / "nr")
    assert missing.returncode == 2 and "--noref needs --plate" in missing.stderr


@pytest.mark.integration
def test_noref_mattes_a_clip_without_alphas_then_checks_it(tmp_path):
    from vfxmatte.synth.build import build_set
    from vfxmatte.synth.recipe import Recipe

    fg = tmp_path / "fg"
    (fg / "images").mkdir(parents=True)
    (fg / "alphas").mkdir()
    yy, xx = np.mgrid[:60, :40]
    cv2.imwrite(str(fg / "images" / "disc.png"), np.full((60, 40, 3), (40, 60, 220), np.uint8))
    disc = np.clip(18 - np.hypot(yy - 30, xx - 20), 0, 1)
    cv2.imwrite(str(fg / "alphas" / "disc.png"), np.rint(disc * 255).astype(np.uint8))
    recipe = Recipe(foregrounds=[str(fg)], procedural_backgrounds=1, width=128, height=80,
                    single=0, multi=0, clips=1, frames=2, max_instances=2)  # fmt: skip
    build_set(recipe, tmp_path / "set")
    clip = tmp_path / "set" / "clips" / "clip0000"
    proc = run_cli("eval", clip, "--noref", "--device", "cpu", "--threads", "1",
                   "--out", tmp_path / "nr")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "nr" / "noref.json").read_text())["rows"]
    assert {r["instance"] for r in rows} == {"instance00", "instance01"}
    assert len(rows) == 4 and sum(r["mass"] for r in rows) > 0  # the pipeline wrote alpha
    assert all(r["detached"] >= 0 and r["background_like"] >= 0 for r in rows)


def test_layer_sheet_shows_each_person_over_green_with_a_crop_at_the_head():
    rgb = np.full((60, 80, 3), 0.5, np.float32)
    alpha = np.zeros((60, 80), np.float32)
    alpha[20:60, 50:70] = 1  # a person whose top is at row 20, centred on column 60
    assert np.allclose(over_green(rgb, alpha)[0, 0], [0, 1, 0])  # no alpha: pure green
    assert np.allclose(over_green(rgb, alpha)[30, 60], 0.5)  # solid: the plate
    assert crop_box([alpha], 20) == (18, 49)  # an eighth of the crop above the head
    sheet = layer_sheet([("f0", rgb, {"after": {"p1": alpha}})], crop=20)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * 20  # plate, layer, crop
