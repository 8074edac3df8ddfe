"""The sparse band solve of the matting Laplacian (vfxmatte/refine/band_solve.py)."""

from __future__ import annotations

import pytest
import torch

from vfxmatte.refine import band_solve
from vfxmatte.refine.band_solve import build_band_system, solve_alpha_band
from vfxmatte.refine.laplacian import solve_alpha, solve_alpha_pyramid


def _scene(h: int = 40, w: int = 56, seed: int = 0):
    """A two-colour image with noise, a vertical edge, and an unknown band around it."""
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(3, h, w, generator=g) * 0.3
    img[:, :, w // 2 :] += 0.5
    img = img.clamp(0, 1)
    xx = torch.arange(w).expand(h, w)
    known = ((xx < w // 2 - 8) | (xx > w // 2 + 8)).float()
    known[:3] = 1.0  # a known strip along the top, touching the band
    alpha_known = (xx >= w // 2).float()
    prior = torch.rand(h, w, generator=g)
    weight = torch.rand(h, w, generator=g) * 0.05
    return img, known, alpha_known, prior, weight


@pytest.mark.parametrize("radius", [1, 2])
def test_band_solve_is_the_closed_form_minimiser(one_torch_thread, radius):
    """Converged, the band system gives the same alpha as the matrix-free operator on the whole
    image (the same L: clipped windows, the same data term and constraints)."""
    img, known, ak, prior, weight = _scene()
    args = (None, prior, weight, radius, 1e-5, 4000, 1e-12)
    full = solve_alpha(img, known, ak, *args, dtype=torch.float64)
    band = solve_alpha_band(img, known, ak, *args, dtype=torch.float64)
    unknown = known < 0.5
    assert ((full[unknown] > 0.05) & (full[unknown] < 0.95)).float().mean() > 0.05  # soft
    assert torch.allclose(band, full, atol=1e-5)
    assert torch.equal(band[~unknown], ak[~unknown])


def test_band_system_is_symmetric_and_rows_sum_to_zero(one_torch_thread):
    img, known, ak, _, _ = _scene(seed=1)
    ones = torch.ones_like(ak)
    system = build_band_system(img, known, ones, radius=1, eps=1e-7)
    count = system.pixels.numel()
    # L 1 = 0: the unknown columns (x = 1) plus the known ones (alpha 1) cancel in every row
    residual = system.matvec(torch.ones(count, dtype=torch.float64)) + system.known_part
    assert residual.abs().max() < 1e-6 * system.diagonal.abs().max()
    assert (system.diagonal > 0).all()
    # symmetric: entry (u, v) equals entry (v, u) for every pair of unknown pixels
    dense = torch.zeros(count, count + 1, dtype=torch.float64)
    dense.scatter_add_(1, system.columns.T, system.values.T)
    dense = dense[:, :count]
    assert torch.allclose(dense, dense.T, atol=1e-9 * float(dense.abs().max()))


def test_band_system_chunks_change_nothing(one_torch_thread, monkeypatch):
    img, known, ak, _, _ = _scene(seed=2)
    whole = build_band_system(img, known, ak)
    monkeypatch.setattr(band_solve, "WINDOW_CHUNK", 37)
    chunked = build_band_system(img, known, ak)
    assert torch.allclose(whole.values, chunked.values, atol=1e-9)
    assert torch.equal(whole.columns, chunked.columns)


def test_band_solve_without_unknowns_returns_the_known_alpha(one_torch_thread):
    img, _, ak, _, _ = _scene()
    out = solve_alpha_band(img, torch.ones_like(ak), ak)
    assert torch.equal(out, ak)


def test_pyramid_band_and_tiled_agree(one_torch_thread):
    """The two solvers of the pyramid minimise the same energy: their alphas stay close on a
    frame large enough for three levels (the tiled one pins tile borders, so not equal)."""
    img, known, ak, prior, weight = _scene(h=160, w=200, seed=3)
    common = dict(prior=prior, prior_weight=weight, fine_iters=60, overlap=8)
    band = solve_alpha_pyramid(img, known, ak, solver="band", **common)
    tiled = solve_alpha_pyramid(img, known, ak, solver="tiled", **common)
    assert (band - tiled).abs().mean() < 0.01
    with pytest.raises(ValueError, match="solver"):
        solve_alpha_pyramid(img, known, ak, solver="dense")
