"""`vfxmatte eval` on tiny generated datasets (and one real image when ../shared/data is there)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli_in_process

from vfxmatte.errors import InvalidInputError, MissingInputError
from vfxmatte.evaluation import dataset as ds
from vfxmatte.evaluation.methods import band_trimap, closed_form_alpha

H, W = 72, 96


def _disc(cx: float, cy: float, r: float, soft: float = 2.0) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    return np.clip((r - np.hypot(xx - cx, yy - cy)) / soft + 0.5, 0, 1)


def _scene(shift: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Two soft discs, the right one in front; colours are smooth so closed-form can solve it."""
    a0 = _disc(32 + shift, 36, 18)
    a1 = _disc(62 - shift, 38, 16)
    vis0 = a0 * (1 - a1)
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    bg = np.broadcast_to(np.array([0.1, 0.5, 0.9], np.float32) * (0.6 + 0.4 * yy), (H, W, 3))
    f0 = np.array([0.9, 0.2, 0.1], np.float32)
    f1 = np.array([0.2, 0.9, 0.2], np.float32)
    img = a1[..., None] * f1 + (1 - a1[..., None]) * (a0[..., None] * f0 + (1 - a0[..., None]) * bg)
    return img, [vis0, a1]


def _rough(alpha: np.ndarray) -> np.ndarray:
    return cv2.dilate((alpha > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) * 255


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))


def _write_grey(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8))


def make_image_set(root: Path, names=("a", "b")) -> Path:
    for k, name in enumerate(names):
        img, alphas = _scene(shift=3 * k)
        _write_rgb(root / "images" / f"{name}.png", img)
        for i, a in enumerate(alphas):
            _write_grey(root / "alphas" / name / f"{i:02d}.png", a)
            _write_grey(root / "masks" / name / f"{i:02d}.png", _rough(a) / 255.0)
    (root / "notes").mkdir()  # a folder the layout does not know: ignored
    (root / "README.txt").write_text("not part of the layout")
    return root


def make_clip(root: Path, frames: int = 3) -> Path:
    for f in range(frames):
        img, alphas = _scene(shift=2 * f)
        _write_rgb(root / "frames" / f"{f:04d}.jpg", img)
        for i, a in enumerate(alphas):
            _write_grey(root / "alphas" / f"{f:04d}" / f"{i:02d}.png", a)
            _write_grey(root / "masks" / f"{f:04d}" / f"{i:02d}.png", _rough(a) / 255.0)
    return root


def test_discover_image_set_ignores_unknown_folders(tmp_path):
    root = make_image_set(tmp_path / "set")
    dataset = ds.discover(root)
    assert dataset.kind == "images"
    assert [s.key for s in dataset.samples] == ["a", "b"]
    assert sorted(dataset.samples[0].alphas) == ["00", "01"]
    assert dataset.ignored == ["notes"]
    loaded = ds.load(dataset.samples[0])
    assert loaded.image.shape == (H, W, 3) and loaded.truths.shape == (2, H, W)
    assert 0.0 <= loaded.image.min() and loaded.image.max() <= 1.0


def test_discover_clips_folder_and_single_clip(tmp_path):
    make_clip(tmp_path / "clips" / "clip_x")
    (tmp_path / "clips" / "not_a_clip").mkdir()
    many = ds.discover(tmp_path / "clips")
    assert many.kind == "clips" and many.clips == ["clip_x"] and many.ignored == ["not_a_clip"]
    assert many.samples[1].out_dir == Path("clip_x/0001")
    one = ds.discover(tmp_path / "clips" / "clip_x", limit=2)
    assert one.kind == "clip" and [s.out_dir for s in one.samples] == [Path("0000"), Path("0001")]


def test_malformed_datasets_raise_one_line_errors(tmp_path):
    root = make_image_set(tmp_path / "set")
    (root / "alphas" / "b" / "01.png").unlink()  # mask 01 of b has no truth
    with pytest.raises(InvalidInputError, match=r"masks/b/01.png.*no ground-truth alpha"):
        ds.discover(root)
    root2 = make_image_set(tmp_path / "set2")
    _write_grey(root2 / "alphas" / "a" / "00.png", np.zeros((H, W + 1)))
    with pytest.raises(InvalidInputError, match=rf"is {W + 1}x{H} but its image .* is {W}x{H}"):
        ds.discover(root2)
    with pytest.raises(MissingInputError, match="not an evaluation dataset"):
        ds.discover(tmp_path / "set" / "notes")
    with pytest.raises(InvalidInputError, match="trimaps"):
        ds.discover(root2, guidance="trimaps")


def test_band_trimap_definition():
    mask = np.zeros((200, 300), np.float32)
    mask[50:150, 100:200] = 1
    t = band_trimap(mask)  # r = round(0.01 x 300) = 3
    row = t[100]
    assert list(row[95:106]) == [0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1]  # 97..102 unknown
    assert (t == 0.5).sum(axis=1)[100] == 12  # 2r on each side = a 2% band per edge


def test_closed_form_crop_matches_full_solve_and_recovers_alpha():
    from pymatting import estimate_alpha_cf

    img, alphas = _scene()
    a = alphas[1]
    trimap = np.where(a > 0.999, 1.0, np.where(a < 0.001, 0.0, 0.5))
    trimap = band_trimap((a > 0.5).astype(np.float32), 0.06)  # band covers the soft edge
    cropped = closed_form_alpha(img, trimap)
    full = estimate_alpha_cf(img.astype(np.float64), trimap)
    assert np.abs(cropped - full).max() < 2e-3
    unknown = trimap == 0.5
    assert np.abs(cropped - a)[unknown].mean() < 0.05  # colour-line model holds here
    assert closed_form_alpha(img, np.zeros_like(trimap) + 0.5) is None


def test_eval_cli_image_set_with_baselines(tmp_path, cli):
    root = make_image_set(tmp_path / "set")
    out = tmp_path / "out"
    r = cli("eval", root, "--out", out, "--device", "cpu", "--baseline", "mask",
            "--baseline", "pymatting-cf")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "ratio guided/mask" in r.stdout and "ratio guided/pymatting-cf" in r.stdout
    for sub in ("alphas", "baselines/mask/alphas", "baselines/pymatting-cf/alphas"):
        png = cv2.imread(str(out / sub / "a" / "01.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (H, W)
    results = json.loads((out / "results.json").read_text())
    assert results["ignored_folders"] == ["notes"]
    mask_sum = results["summary"]["mask"]
    # The mask baseline's MAD is the rough masks' own MAD where they do not overlap; overlap
    # is shared by the consistency step, so it can only be lower or equal.
    assert mask_sum["mad"] <= results["rough_mask_mad"] + 1e-6
    # Closed-form with a band around rough masks must beat the masks themselves here.
    assert results["summary"]["pymatting-cf"]["mad"] < mask_sum["mad"]
    sample = results["samples"][0]["methods"]["guided"]
    assert set(sample["instances"]["00"]) == {
        "sad",
        "mse",
        "mad",
        "grad",
        "conn",
        "leak",
        "strands",
    }
    assert sample["leak_max"] is not None and 0 <= sample["imq_mad"]["imq"] <= 1
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 320 * 7  # plate, masks, truth, layers, 3 errors
    assert (out / "results.md").read_text().count("| a ") >= 3


def test_eval_cli_clip_temporal_metrics(tmp_path, cli):
    clip = make_clip(tmp_path / "clip_t")
    out = tmp_path / "out"
    r = cli("eval", clip, "--out", out, "--device", "cpu", "--baseline", "mask",
            "--temporal-strength", "0.5")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "dtSSD" in r.stdout and "temporal smoothing applied" in r.stdout
    assert (out / "alphas" / "0002" / "01.png").exists()
    results = json.loads((out / "results.json").read_text())
    per = results["clips"]["clip_t"]
    assert set(per) == {"guided", "mask"}
    assert per["mask"]["instances"]["00"]["pairs"] == 2
    assert per["mask"]["dtssd"] >= 0 and results["summary"]["guided"]["dtssd"] is not None


def test_eval_cli_malformed_dataset_exit_code(tmp_path, one_torch_thread):
    cli = run_cli_in_process  # refused before any work: no ~4 s process start per call
    root = make_image_set(tmp_path / "set")
    for p in (root / "alphas" / "a").iterdir():
        p.unlink()
    (root / "alphas" / "a").rmdir()
    r = cli("eval", root, "--out", tmp_path / "out", "--device", "cpu")
    assert r.returncode == 3
    assert "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "no ground-truth alpha folder" in err[0] and "a.png" in err[0]
    r = cli("eval", tmp_path / "set", "--out", tmp_path / "o2", "--baseline", "magic")
    assert r.returncode == 2 and "--baseline magic" in r.stderr


def test_eval_real_image_mask_baseline_matches_files(shared_data, tmp_path, cli):
    single = shared_data / "dev-sets" / "single"
    if not single.is_dir():
        pytest.skip(f"{single} not present")
    out = tmp_path / "real"
    r = cli("eval", single, "--out", out, "--engine", "none", "--baseline", "mask",
            "--limit", "1", "--sheet-rows", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    name = results["samples"][0]["key"]
    alpha = cv2.imread(str(single / "alphas" / name / "00.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    mask = cv2.imread(str(single / "masks" / name / "00.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    expected_sad = np.abs(alpha - mask).sum() / 1000
    got = results["samples"][0]["methods"]["mask"]["mean"]["sad"]
    assert got == pytest.approx(expected_sad, rel=1e-5)


def test_trimap_guidance_uses_the_dataset_trimaps(tmp_path):
    from vfxmatte.evaluation.session import run_evaluation

    root = tmp_path / "tri"
    img, alphas = _scene()
    _write_rgb(root / "images" / "one.png", img)
    _write_grey(root / "alphas" / "one" / "00.png", alphas[1])
    trimap = np.where(alphas[1] > 0.98, 1.0, np.where(alphas[1] < 0.02, 0.0, 0.5))
    trimap = cv2.dilate((trimap == 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) * 0.5 + (
        trimap == 1
    ) * (cv2.erode((trimap == 1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    _write_grey(root / "trimaps" / "one.png", trimap)
    out = tmp_path / "out"
    outcome = run_evaluation(
        root, out, engine=None, baselines=["mask", "pymatting-cf"], guidance="trimaps",
        device="cpu", sheet_rows=0,
    )  # fmt: skip
    mask_pred = cv2.imread(str(out / "baselines/mask/alphas/one/00.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(mask_pred / 65535.0, trimap, atol=1e-3)  # the trimap itself
    summary = outcome.results["summary"]
    assert summary["pymatting-cf"]["mad"] < 0.5 * summary["mask"]["mad"]
    assert outcome.sheet_path is None


def test_eval_smoother_damps_flicker_per_method():
    """A baseline's clip gets the pipeline's bidirectional smoother: on a static plate small
    flicker (within the robust vote's inlier tolerance: noise, not a wrong frame) is damped on
    every frame, the clip's ends included (their windows are truncated, not empty)."""
    from vfxmatte.evaluation.temporal import make_smoother
    from vfxmatte.jobspec import field_default

    factory, note = make_smoother(field_default("temporal_strength"))
    assert factory is not None and "applied" in note and "bidirectional" in note
    assert make_smoother(0)[0] is None
    rng = np.random.default_rng(3)
    image = rng.random((64, 64, 3), dtype=np.float32)
    flicker = [np.full((1, 64, 64), v, np.float32) for v in (0.45, 0.55) * 3]
    out = factory()(flicker, [image] * len(flicker))
    steps = [float(np.abs(out[i] - out[i - 1]).mean()) for i in range(1, len(out))]
    assert max(steps) < 0.1 * 0.75  # raw flicker is 0.1 per frame
    # A single frame (no neighbour) passes through untouched.
    assert np.allclose(factory()([flicker[0]], [image])[0], 0.45)
