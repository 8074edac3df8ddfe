"""The guided engine and its refine/ pieces on synthetic cases with a known alpha, plus one
real dev-set photograph (integration). Everything here runs on CPU; the CUDA twin is compared
when a GPU is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.refine.consistency import enforce_instance_consistency
from vfxmatte.refine.foreground import estimate_foreground
from vfxmatte.refine.laplacian import (
    CentredLaplacian,
    MattingLaplacian,
    linear_upsample,
    solve_alpha,
    solve_alpha_pyramid,
)
from vfxmatte.refine.tiling import feather, tile_boxes

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _shared_data() -> Path | None:
    env = os.environ.get("VFXMATTE_SHARED_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for parent in [REPO, *REPO.parents]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def _composite(alpha: torch.Tensor, seed: int = 0, noise: float = 0.01) -> torch.Tensor:
    """A photograph-like composite: textured reddish fg over textured bluish bg."""
    g = torch.Generator().manual_seed(seed)
    h, w = alpha.shape
    fg = torch.tensor([0.85, 0.45, 0.25])[:, None, None] + noise * torch.randn(3, h, w, generator=g)
    bg = torch.tensor([0.15, 0.35, 0.75])[:, None, None] + noise * torch.randn(3, h, w, generator=g)
    return (alpha * fg + (1 - alpha) * bg).clamp(0, 1)


def _ramp(h: int = 48, w: int = 96) -> torch.Tensor:
    x = torch.linspace(0, 1, w)
    return ((x - 0.3) / 0.4).clamp(0, 1).expand(h, w).clone()


def _strand(h: int = 64, w: int = 64) -> torch.Tensor:
    """A thin diagonal hair strand (peak alpha 0.8, ~2 px wide) hanging off a solid block."""
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    dist = (yy - 0.5 * xx - 10).abs() / (1 + 0.25) ** 0.5
    strand = 0.8 * torch.exp(-0.5 * (dist / 0.8) ** 2)
    block = (xx < 8).float()
    return torch.maximum(strand, block)


def test_laplacian_matches_pymatting_interior():
    from pymatting import cf_laplacian

    g = torch.Generator().manual_seed(1)
    img = torch.rand(3, 15, 19, generator=g, dtype=torch.float64)
    lap = MattingLaplacian.build(img, radius=1, eps=1e-7)
    dense = cf_laplacian(img.permute(1, 2, 0).numpy(), epsilon=1e-7, radius=1)
    p = torch.rand(15, 19, generator=g, dtype=torch.float64)
    ref = (dense @ p.numpy().ravel()).reshape(15, 19)
    ours = lap.matvec(p).numpy()
    # pymatting skips windows that cross the border; ours clips them: compare the interior
    np.testing.assert_allclose(ours[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-6)
    diag = dense.diagonal().reshape(15, 19)
    np.testing.assert_allclose(lap.diagonal().numpy()[2:-2, 2:-2], diag[2:-2, 2:-2], atol=1e-6)
    q = torch.rand(15, 19, generator=g, dtype=torch.float64)
    assert abs(float((lap.matvec(p) * q).sum() - (lap.matvec(q) * p).sum())) < 1e-8


def _two_colour_tiles(batch: int = 3, h: int = 24, w: int = 32) -> torch.Tensor:
    """Flat patches, a sharp two-colour edge and texture: the windows whose covariance is
    singular or rank one are where float32 box sums fail."""
    g = torch.Generator().manual_seed(11)
    img = torch.rand(batch, 3, h, w, generator=g, dtype=torch.float64)
    img[:, :, :, : w // 2] = torch.tensor([0.8, 0.6, 0.3], dtype=torch.float64)[:, None, None]
    img[:, :, : h // 2, : w // 4] = torch.tensor([0.1, 0.2, 0.7], dtype=torch.float64)[
        :, None, None
    ]
    return img


def test_float32_operator_matches_float64_where_box_sums_fail():
    img = _two_colour_tiles()
    lap = MattingLaplacian.build(img, radius=1, eps=1e-7)
    g = torch.Generator().manual_seed(12)
    p = torch.rand(img.shape[0], *img.shape[-2:], generator=g, dtype=torch.float64)
    ref = lap.matvec(p)
    scale = float(ref.abs().max())
    centred = CentredLaplacian.from_laplacian(lap, torch.float32).matvec(p.float()).double()
    assert float((centred - ref).abs().max()) < 1e-4 * scale
    # the naive float32 box-sum form is off by O(1) on the same input: why the centred form exists
    naive = MattingLaplacian(
        img.float(), 1, lap.n.float(), lap.mu.float(), lap.delta.float(), lap.count.float()
    ).matvec(p.float())
    assert float((naive.double() - ref).abs().max()) > 1e-2 * scale
    # batch items are independent systems: one tile alone gives the same answer
    alone = CentredLaplacian.from_laplacian(MattingLaplacian.build(img[1]), torch.float32)
    assert torch.allclose(alone.matvec(p[1].float()), centred[1].float(), atol=1e-4 * scale)
    diag = CentredLaplacian.from_laplacian(lap, torch.float32).diag
    assert torch.allclose(diag, lap.diagonal(), atol=1e-6 * float(lap.diagonal().abs().max()))


def test_float32_and_float64_solves_agree():
    alpha = _ramp()
    image = _composite(alpha, noise=0.02)
    known = ((alpha == 0) | (alpha == 1)).float()
    a64 = solve_alpha(image, known, alpha.round(), iters=500, tol=1e-7, dtype=torch.float64)
    a32 = solve_alpha(image, known, alpha.round(), iters=500, tol=1e-6, dtype=torch.float32)
    assert float((a64 - a32).abs().max()) < 2e-3


def test_linear_upsample_keeps_edges_sharp():
    """A coarse alpha carried up through its colour model lands on the fine image's edge;
    bilinear upsampling smears it over the coarse pixel."""
    alpha = torch.zeros(64, 64)
    alpha[:, 33:] = 1.0  # edge between fine columns 32 and 33: mid-pixel at the coarse level
    image = _composite(alpha, noise=0.0)
    coarse_img = torch.nn.functional.avg_pool2d(image[None], 2)[0]
    coarse_alpha = torch.nn.functional.avg_pool2d(alpha[None, None], 2)[0, 0]
    up = linear_upsample(coarse_alpha, coarse_img, image, radius=1, eps=1e-6)
    bilinear = torch.nn.functional.interpolate(
        coarse_alpha[None, None], size=(64, 64), mode="bilinear", align_corners=False
    )[0, 0]
    assert float((up - alpha).abs().mean()) < 0.25 * float((bilinear - alpha).abs().mean())
    # evaluating only a band gives the same values there (and nothing elsewhere)
    band = (torch.arange(64) - 32.5).abs().lt(6).expand(64, 64)
    part = linear_upsample(coarse_alpha, coarse_img, image, radius=1, eps=1e-6, where=band)
    assert torch.allclose(part[band], up[band], atol=1e-6)
    assert float(part[~band].abs().max()) == 0.0


def test_linear_upsample_band_tiles_match_the_whole_model():
    """The band-only path fits the model on tiles (shifted at the borders): values must equal
    the whole-image model's, on a coarse grid of several tiles and at every border."""
    g = torch.Generator().manual_seed(2)
    coarse_img = torch.rand(3, 150, 210, generator=g)
    coarse_alpha = torch.rand(150, 210, generator=g)
    image = torch.rand(3, 300, 420, generator=g)
    ring = torch.zeros(300, 420, dtype=torch.bool)
    ring[:3], ring[-2:], ring[:, :2], ring[:, -3:] = True, True, True, True
    ring[140:150, 100:330] = True  # crosses tile borders inside the frame
    full = linear_upsample(coarse_alpha, coarse_img, image, radius=1, eps=1e-4)
    part = linear_upsample(coarse_alpha, coarse_img, image, radius=1, eps=1e-4, where=ring)
    assert torch.allclose(part[ring], full[ring], atol=1e-6)
    assert float(part[~ring].abs().max()) == 0.0


def test_sample_at_source_positions_equals_interpolate_then_index():
    """The band-only evaluations (trimap colour models, linear upsampling) sample a coarse map
    at chosen fine pixels: it must equal upsampling the whole map, borders included."""
    from vfxmatte.refine.filters import sample_at, source_positions

    g = torch.Generator().manual_seed(4)
    planes = torch.rand(5, 37, 61, generator=g)
    full = torch.nn.functional.interpolate(
        planes[None], size=(130, 200), mode="bilinear", align_corners=False
    )[0]
    ys = torch.randint(0, 130, (500,), generator=g)
    xs = torch.randint(0, 200, (500,), generator=g)
    ys[:4], xs[:4] = torch.tensor([0, 129, 0, 129]), torch.tensor([0, 199, 199, 0])
    at = sample_at(planes, *source_positions(ys, xs, (37, 61), (130, 200)))
    assert torch.allclose(at, full[:, ys, xs], atol=1e-5)


def test_solver_recovers_soft_ramp():
    alpha = _ramp()
    image = _composite(alpha, noise=0.0)
    known = ((alpha == 0) | (alpha == 1)).float()
    est = solve_alpha(image, known, (alpha > 0.5).float(), iters=2000, tol=1e-10)
    assert float((est - alpha).abs().max()) < 0.02


def test_pyramid_recovers_thin_strand():
    alpha = _strand()
    image = _composite(alpha, seed=3, noise=0.005)
    near = torch.nn.functional.max_pool2d((alpha > 0.05).float()[None, None], 9, 1, 4)[0, 0]
    known = (near < 0.5).float() + (alpha >= 0.999).float()
    est = solve_alpha_pyramid(
        image, known.clamp(0, 1), (alpha > 0.5).float(), min_side=16, fine_iters=300, tol=1e-8
    )
    unk = known < 0.5
    err = float((est - alpha).abs()[unk].mean())
    trivial = float(alpha[unk].mean())  # error of answering 0 (no strand)
    assert err < 0.25 * trivial
    # the strand's core is found: alpha at the centre line is high
    assert float(est[alpha > 0.7].mean()) > 0.6


def test_tiled_refinement_matches_single_solve():
    alpha = torch.zeros(64, 112)
    alpha[:, 60:] = 1
    alpha[:, 50:60] = torch.linspace(0, 1, 10)
    image = _composite(alpha, seed=5)
    known = ((alpha == 0) | (alpha == 1)).float()
    common = dict(fine_iters=100, solver="tiled")
    whole = solve_alpha_pyramid(image, known, alpha.round(), tile=4096, **common)
    tiled = solve_alpha_pyramid(image, known, alpha.round(), tile=48, overlap=16, **common)
    assert float((whole - tiled).abs().max()) < 0.05
    assert float((tiled - alpha).abs().mean()) < 0.01


def test_tiles_cover_and_feather_positive():
    h, w = 300, 517
    acc = torch.zeros(h, w)
    for box in tile_boxes(h, w, 128, 32):
        y0, y1, x0, x1 = box
        acc[y0:y1, x0:x1] += feather(box, h, w, 32)
    assert float(acc.min()) > 0


def _two_people(h: int = 120, w: int = 200):
    """Two overlapping soft discs (the right one in front) and rough, offset masks."""
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    a0 = ((40 - ((yy - 60) ** 2 + (xx - 70) ** 2).sqrt()) / 3).clamp(0, 1)
    a1 = ((40 - ((yy - 60) ** 2 + (xx - 130) ** 2).sqrt()) / 3).clamp(0, 1)
    a0 = a0 * (1 - a1)  # visible alpha: the front person occludes the back one
    g = torch.Generator().manual_seed(7)
    colours = [torch.tensor([0.9, 0.5, 0.2]), torch.tensor([0.3, 0.8, 0.3])]
    bg = torch.tensor([0.2, 0.2, 0.7])[:, None, None] + 0.01 * torch.randn(3, h, w, generator=g)
    image = (1 - a0 - a1) * bg + a0 * colours[0][:, None, None] + a1 * colours[1][:, None, None]
    m0 = (((yy - 62) ** 2 + (xx - 74) ** 2).sqrt() < 44).float() * (a1 < 0.5).float()
    m1 = (((yy - 57) ** 2 + (xx - 127) ** 2).sqrt() < 37).float()
    return image.clamp(0, 1), torch.stack([a0, a1]), torch.stack([m0, m1])


def test_engine_two_people_no_leak_and_better_than_masks():
    image, gts, masks = _two_people()
    engine = GuidedEngine("cpu", {"search_min": 8, "search_frac": 0.0})
    out = engine.matte(EngineInput(image=image, masks=masks, names=["a", "b"]))
    alphas, cores = out.alphas, out.cores
    assert cores is not None and cores.shape == masks.shape
    alphas, union = enforce_instance_consistency(alphas, cores)
    assert alphas.shape == masks.shape
    assert float((alphas.sum(0) - 1).max()) <= 1e-5
    err = float((alphas - gts).abs().mean())
    mask_err = float((masks - gts).abs().mean())
    assert err < 0.5 * mask_err
    for i in range(2):
        solid_other = gts[1 - i] >= 0.99
        assert float(alphas[i][solid_other].mean()) < 0.005


def test_engine_empty_mask_gives_zero_alpha():
    image, _, masks = _two_people()
    masks[1] = 0
    alphas = (
        GuidedEngine("cpu", {"search_min": 8})
        .matte(EngineInput(image=image, masks=masks, names=["a", "b"]))
        .alphas
    )
    assert float(alphas[1].abs().max()) == 0.0
    assert float(alphas[0].max()) > 0.99


def test_clean_plate_helps_where_colours_are_ambiguous():
    """Foreground and background share colours; a known background disambiguates them."""
    h, w = 80, 120
    alpha = torch.zeros(h, w)
    alpha[:, 50:] = 1
    alpha[:, 44:50] = torch.linspace(0, 1, 6)
    g = torch.Generator().manual_seed(11)
    stripes = (torch.arange(w) // 6 % 2).float()
    bg = torch.stack([stripes, 1 - stripes, 0.5 * torch.ones(w)])[:, None, :].expand(3, h, w)
    fg = torch.stack([1 - stripes, stripes, 0.5 * torch.ones(w)])[:, None, :].expand(3, h, w)
    image = (alpha * fg + (1 - alpha) * bg + 0.005 * torch.randn(3, h, w, generator=g)).clamp(0, 1)
    mask = torch.zeros(1, h, w)
    mask[0, :, 58:] = 1  # rough: 8-10 px off
    engine = GuidedEngine("cpu", {"search_min": 14, "search_frac": 0.0})
    plain = engine.matte(EngineInput(image=image, masks=mask, names=["a"])).alphas[0]
    cp = engine.matte(
        EngineInput(image=image, masks=mask, names=["a"], clean_plate=bg.clone())
    ).alphas[0]
    err_plain = float((plain - alpha).abs().mean())
    err_cp = float((cp - alpha).abs().mean())
    assert err_cp < 0.5 * err_plain + 1e-3
    assert err_cp < 0.02


def test_foreground_matches_pymatting_and_recomposes():
    from pymatting import estimate_foreground_ml

    alpha = _strand(48, 48)
    image = _composite(alpha, seed=2)
    fg, bg = estimate_foreground(image, alpha, return_background=True)
    recomposed = alpha * fg + (1 - alpha) * bg
    soft = (alpha > 0.05) & (alpha < 0.95)
    assert float((recomposed - image).abs()[:, soft].mean()) < 0.01
    ref = estimate_foreground_ml(image.permute(1, 2, 0).double().numpy(), alpha.double().numpy())
    diff = np.abs(fg.permute(1, 2, 0).numpy() - ref)[alpha.numpy() > 0.05]
    assert diff.mean() < 0.02  # Jacobi sweeps here, Gauss-Seidel in pymatting
    # no dark halo: the strand's estimated colour is the foreground's, not mixed with blue bg
    assert float(fg[2][soft].mean()) < 0.4


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_matches_cpu():
    image, _, masks = _two_people()
    inp = EngineInput(image=image, masks=masks, names=["a", "b"])
    cpu = GuidedEngine("cpu", {"search_min": 8}).matte(inp).alphas
    gpu_inp = EngineInput(image=image.cuda(), masks=masks.cuda(), names=["a", "b"])
    gpu = GuidedEngine("cuda", {"search_min": 8}).matte(gpu_inp).alphas.cpu()
    assert float((cpu - gpu).abs().max()) < 1e-3
    fg_cpu = estimate_foreground(image, cpu[0])
    fg_gpu = estimate_foreground(image.cuda(), cpu[0].cuda()).cpu()
    assert float((fg_cpu - fg_gpu).abs().max()) < 1e-3


@pytest.mark.integration
def test_real_photograph_beats_rough_mask():
    data = _shared_data()
    if data is None:
        pytest.skip("real data folder ../shared/data not found (set VFXMATTE_SHARED_DATA)")
    import cv2

    root = data / "dev-sets" / "single"
    img = cv2.cvtColor(cv2.imread(str(root / "images" / "GT14.png")), cv2.COLOR_BGR2RGB)
    gt = cv2.imread(str(root / "alphas" / "GT14" / "00.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    mask = cv2.imread(str(root / "masks" / "GT14" / "00.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    image = torch.from_numpy(img.transpose(2, 0, 1).copy()).float() / 255.0
    masks = torch.from_numpy(mask).float()[None]
    alpha = GuidedEngine("cpu").matte(EngineInput(image=image, masks=masks, names=["p"])).alphas[0]
    sad = float(np.abs(alpha.numpy() - gt).sum() / 1000)
    sad_mask = float(np.abs(mask - gt).sum() / 1000)
    assert sad < 0.5 * sad_mask, (sad, sad_mask)


def _fringe(h: int = 160, w: int = 160) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A solid block (x < 60) with thin locks (peak alpha 0.95, ~3 px wide) running 32 px
    out of it, a rough mask that covers only the block, and a solid background object of the
    foreground's colour (no strands: alpha 0) beside the block. Returns image, alpha, mask."""
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    alpha = (xx < 60).float()
    for k, y0 in enumerate(range(12, 100, 11)):
        centre = y0 + 0.15 * (xx - 60) * (1 if k % 2 else -1)
        strand = 0.95 * torch.exp(-0.5 * ((yy - centre) / 1.3) ** 2) * (xx < 92).float()
        alpha = torch.maximum(alpha, strand)
    mask = (xx < 60).float()
    look_alike = ((yy >= 125) & (xx >= 72) & (xx < 98)).float()  # fg-coloured, solid, no fringe
    g = torch.Generator().manual_seed(5)
    # blond strands against a dark blue sky (hair has luminance contrast: it is textured)
    fg = torch.tensor([0.9, 0.75, 0.5])[:, None, None] + 0.01 * torch.randn(3, h, w, generator=g)
    bg = torch.tensor([0.1, 0.2, 0.45])[:, None, None] + 0.01 * torch.randn(3, h, w, generator=g)
    bg = bg * (1 - look_alike) + fg * look_alike
    image = (alpha * fg + (1 - alpha) * bg).clamp(0, 1)
    return image, alpha, mask


def test_reach_ring_covers_strands_beyond_the_band_not_solid_look_alikes():
    from vfxmatte.refine.trimap import adaptive_trimap

    image, alpha, mask = _fringe()
    narrow = adaptive_trimap(image, mask, search=8).trimap
    wide = adaptive_trimap(image, mask, search=8, reach=40).trimap
    x = torch.arange(160)[None, :]
    strands = (alpha > 0.3) & (x >= 75) & (x < 96)  # beyond the band, within the reach
    assert float((narrow[strands] == 0).float().mean()) > 0.95  # narrow band: strands pinned to 0
    assert float((wide[strands] == 0.5).float().mean()) > 0.9  # reach ring: they are unknown
    # the solid foreground-coloured object beyond the band stays known background
    yy, xx = torch.meshgrid(torch.arange(160), torch.arange(160), indexing="ij")
    assert bool((wide[(yy >= 130) & (xx >= 80) & (xx < 98)] == 0).all())
    # and the open background between the strands' tips and the reach limit is left alone
    assert bool((wide[:, 125:] == 0).all())


def test_engine_recovers_hair_fringe_beyond_rough_mask():
    image, alpha, mask = _fringe()
    inp = EngineInput(image=image, masks=mask[None], names=["a"])
    opts = {"fine_iters": 60}
    est = GuidedEngine("cpu", opts).matte(inp).alphas[0]
    narrow = GuidedEngine("cpu", {**opts, "reach_k": 0}).matte(inp).alphas[0]
    yy, xx = torch.meshgrid(torch.arange(160), torch.arange(160), indexing="ij")
    out = (xx >= 72) & (xx < 96) & (yy < 120)  # beyond the band, within the reach
    err = float((est - alpha).abs()[out].sum())
    err_narrow = float((narrow - alpha).abs()[out].sum())
    assert err < 0.5 * err_narrow
    assert float(est[(alpha > 0.7) & out].mean()) > 0.4  # strand cores found out there
    # the look-alike object is not pulled into the matte
    assert float(est[(yy >= 130) & (xx >= 80) & (xx < 96)].max()) < 0.05
    # beyond the ordinary band, faint alpha (ghosts of textured background) is floored to 0
    band = GuidedEngine("cpu")._search_width(160) + 6
    near = torch.nn.functional.max_pool2d(mask[None, None], 2 * band + 1, 1, band)[0, 0] > 0.5
    faint = (~near) & (est > 0) & (est < 0.1)
    assert not bool(faint.any())
    unfloored = GuidedEngine("cpu", {**opts, "reach_floor": 0}).matte(inp).alphas[0]
    assert bool(((~near) & (unfloored > 0) & (unfloored < 0.1)).any())  # the floor did act
