"""The matting-Laplacian solve restricted to the unknown band, as one sparse system.

Why: the unknown band of a 4K person is a few percent of their region of interest. The tiled
matrix-free solve (:func:`vfxmatte.refine.laplacian.solve_alpha_tiled`) evaluates ``L @ p`` on
every pixel of every 64 px tile that touches the band (54 planes per pixel per iteration), so its
cost follows the tiles, and each tile's border is pinned to the coarser solution. Here only the
windows that touch an unknown pixel are visited, once: their local matrices
``L_k = I - (1 + C_a^T D_k C_b) / n_k`` (``C`` the colours minus the window mean,
``D_k = (Sigma_k + eps/n_k)^-1``, windows clipped to the image as in
:class:`~vfxmatte.refine.laplacian.MattingLaplacian`) are summed into a banded matrix with one row
per unknown pixel and one column per neighbour offset (``(4r+1)^2``, 25 for ``r = 1``). Columns
of known pixels move to the right-hand side. Conjugate gradient then costs ``(4r+1)^2``
multiply-adds per unknown pixel per iteration and there are no tile seams.

Precision: window statistics and the matrix entries are computed in float64 (the same reason as
in :mod:`vfxmatte.refine.laplacian`: ``D_k`` reaches ~1e8 in flat windows); the entries
themselves are moderate (``D_k`` only meets vectors in its covariance's range), so the
iterations may run in float32.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from vfxmatte.refine import sym3
from vfxmatte.refine.cg import conjugate_gradient
from vfxmatte.refine.filters import dilate

# windows whose local matrices are built at once: bounds the build's memory (~60 float64 values
# per window) whatever the band's size
WINDOW_CHUNK = 1 << 16


@dataclass
class BandSystem:
    """``L`` restricted to the unknown pixels: one row per unknown pixel, ``(4r+1)^2`` entries.

    Row ``u`` is the unknown pixel at padded flat index ``pixels[u]``; ``values[e, u]`` is its
    entry for the neighbour at band offset ``e``, whose unknown index is ``columns[e, u]`` (or
    ``len(pixels)``, a spare column that multiplies zero, when the neighbour is known or outside
    the image). ``known_part`` is ``sum_e values[e, u] * alpha(neighbour)`` over the known
    neighbours (it moves to the right-hand side).
    """

    pixels: torch.Tensor  # (U,) padded flat indices of the unknown pixels
    values: torch.Tensor  # (E, U) float64 entries of L among the unknowns
    columns: torch.Tensor  # (E, U) unknown index of each neighbour (U: known / outside)
    diagonal: torch.Tensor  # (U,) float64 L_ii
    known_part: torch.Tensor  # (U,) float64 (L_uk alpha_k) for the known neighbours
    _csr: dict = field(default_factory=dict, repr=False)  # dtype -> CSR matrix (U, U + 1)

    def matrix(self, dtype: torch.dtype) -> torch.Tensor:
        """The rows as a sparse CSR matrix in ``dtype`` (U, U + 1): torch's CSR product is ~3x
        faster than gathering the neighbours densely, on CPU, and runs on CUDA as it is."""
        if dtype not in self._csr:
            entries, count = self.values.shape
            crow = torch.arange(0, entries * count + 1, entries, device=self.values.device)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
                self._csr[dtype] = torch.sparse_csr_tensor(
                    crow,
                    self.columns.T.reshape(-1),
                    self.values.T.reshape(-1).to(dtype),
                    size=(count, count + 1),
                )
        return self._csr[dtype]

    def matvec(self, x: torch.Tensor) -> torch.Tensor:
        """``L_uu @ x`` for x (1, U) or (U,) in float32 or float64."""
        ext = torch.cat([x.reshape(-1), x.new_zeros(1)])[:, None]
        return (self.matrix(x.dtype) @ ext).reshape(x.shape)


def build_band_system(
    image: torch.Tensor,
    known: torch.Tensor,
    alpha_known: torch.Tensor,
    radius: int = 1,
    eps: float = 1e-7,
) -> BandSystem:
    """The closed-form system of the unknown pixels (``known < 0.5``) of one (3,H,W) image."""
    f64 = torch.float64
    dev = image.device
    h, w = known.shape
    r = radius
    # padded by the band's reach (2r), so every neighbour index of an unknown pixel is in range
    wp = w + 4 * r
    unknown = known < 0.5
    pad = (2 * r, 2 * r, 2 * r, 2 * r)
    img = F.pad(image.to(f64), pad).reshape(3, -1)
    inside = F.pad(torch.ones((h, w), dtype=f64, device=dev), pad).reshape(-1)
    ak = F.pad(torch.where(unknown, 0.0, alpha_known.to(f64)), pad).reshape(-1)
    unknown_p = F.pad(unknown, pad).reshape(-1)
    pixels = torch.nonzero(unknown_p).flatten()
    count = pixels.numel()
    # padded flat index -> unknown index (count for known pixels and the padding)
    lut = torch.full_like(unknown_p, count, dtype=torch.long)
    lut[pixels] = torch.arange(count, device=dev)
    centres = F.pad(dilate(unknown.float(), r) > 0.5, pad).reshape(-1).nonzero().flatten()

    win = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    band = [(dy, dx) for dy in range(-2 * r, 2 * r + 1) for dx in range(-2 * r, 2 * r + 1)]
    band_index = {d: e for e, d in enumerate(band)}
    win_flat = torch.tensor([dy * wp + dx for dy, dx in win], device=dev)
    band_flat = torch.tensor([dy * wp + dx for dy, dx in band], device=dev)

    # row u of the band matrix gets window k's local entries (a, b) where pixel k + a is u;
    # rows of known pixels land in the spare row ``count`` and are dropped
    values = torch.zeros((len(band), count + 1), dtype=f64, device=dev)
    # the (a, b) pair's band offset seen from pixel a, for every a: (O, O)
    targets = torch.tensor(
        [[band_index[(by - ay, bx - ax)] for by, bx in win] for ay, ax in win], device=dev
    )
    for first in range(0, centres.numel(), WINDOW_CHUNK):
        part = centres[first : first + WINDOW_CHUNK]
        _add_windows(values, part, win_flat, targets, img, inside, lut, eps)
    values = values[:, :count]
    neighbours = pixels[None, :] + band_flat[:, None]  # (E, U)
    columns = _gather(lut, neighbours)
    known_part = (values * _gather(ak, neighbours)).sum(0)
    diagonal = values[band_index[(0, 0)]].clone()
    return BandSystem(pixels, values, columns, diagonal, known_part)


def _add_windows(
    values: torch.Tensor,
    centres: torch.Tensor,
    win_flat: torch.Tensor,
    targets: torch.Tensor,
    img: torch.Tensor,
    inside: torch.Tensor,
    lut: torch.Tensor,
    eps: float,
) -> None:
    """Add the local matrices of the windows centred at ``centres`` (padded flat indices) into
    the (E, U + 1) ``values``."""
    flat_values, rows_stride = values.view(-1), values.shape[1]
    nb = centres[None, :] + win_flat[:, None]  # (O, K) the window's pixels
    colours = _gather(img, nb)  # (3, O, K)
    valid = _gather(inside, nb)  # (O, K)
    n = valid.sum(0)  # (K,)
    mu = colours.sum(1) / n  # padding is zero: (3, K)
    cov = torch.stack([(colours[i] * colours[j]).sum(0) for i, j in sym3.UPPER]) / n
    cov = cov - sym3.outer_upper(mu[:, None], mu[:, None])[:, 0]
    cov[[0, 3, 5]] += eps / n
    delta = sym3.inverse(cov[:, None])  # (6, 1, K)
    centred = (colours - mu[:, None]) * valid  # (3, O, K)
    gain = sym3.matvec(delta, centred) / n  # (3, O, K): D_k C_b / n_k
    rows = _gather(lut, nb)  # (O, K)
    shared = valid * (1.0 / n)  # (O, K): the 1/n_k term of every b, times b's validity
    g0, g1, g2 = gain.unbind(0)
    for a in range(nb.shape[0]):
        c0, c1, c2 = centred[0, a], centred[1, a], centred[2, a]
        local = torch.mul(g0, c0).addcmul_(g1, c1).addcmul_(g2, c2)  # C_a . D C_b / n
        local.addcmul_(shared, valid[a]).neg_()
        local[a] += valid[a]
        index = targets[a][:, None] * rows_stride + rows[a][None, :]
        flat_values.index_add_(0, index.reshape(-1), local.reshape(-1))


def _gather(flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``flat[..., index]`` for a 1-D padded grid (or channels of one) and an index array of any
    shape; ``index_select`` on the flat index is several times faster than advanced indexing."""
    picked = flat.index_select(-1, index.reshape(-1))
    return picked.view(*flat.shape[:-1], *index.shape)


def solve_alpha_band(
    image: torch.Tensor,
    known: torch.Tensor,
    alpha_known: torch.Tensor,
    init: torch.Tensor | None = None,
    prior: torch.Tensor | None = None,
    prior_weight: torch.Tensor | float = 0.0,
    radius: int = 1,
    eps: float = 1e-7,
    iters: int = 200,
    tol: float = 1e-5,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Closed-form matting of one (3,H,W) image over its unknown band (``known == 0``).

    Minimises ``a^T L a + sum w (a - prior)^2`` over the unknown pixels with ``a = alpha_known``
    where ``known == 1``, by Jacobi-preconditioned CG in ``dtype`` from ``init`` (the known
    values' zero where None). Same arguments and result as
    :func:`vfxmatte.refine.laplacian.solve_alpha` for a single image; returns (H,W) in [0,1].
    """
    h, w = known.shape
    r = radius
    unknown = known < 0.5
    base = torch.where(unknown, torch.zeros_like(alpha_known), alpha_known).to(image.dtype)
    if not bool(unknown.any()):
        return base.clamp(0, 1)
    system = build_band_system(image, known, alpha_known, radius, eps)
    ys, xs = system.pixels // (w + 4 * r) - 2 * r, system.pixels % (w + 4 * r) - 2 * r
    f64 = torch.float64
    if torch.is_tensor(prior_weight):
        weight = prior_weight[ys, xs].to(f64)
    else:
        weight = torch.full_like(system.diagonal, float(prior_weight))
    target = prior[ys, xs].to(f64) if prior is not None else torch.zeros_like(weight)
    rhs = (weight * target - system.known_part).to(dtype)[None]
    inv_m = (1.0 / (system.diagonal + weight).clamp_min(1e-6)).to(dtype)[None]
    wd = weight.to(dtype)
    x0 = init[ys, xs].to(dtype)[None] if init is not None else torch.zeros_like(rhs)

    def op(v: torch.Tensor) -> torch.Tensor:
        return system.matvec(v) + wd * v

    x = conjugate_gradient(op, rhs, x0, inv_m, iters, tol)
    out = base.clone()
    out[ys, xs] = x[0].to(out.dtype)
    return out.clamp(0, 1)
