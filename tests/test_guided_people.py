"""The guided engine's cost per extra person (issue 20) without a change of result: the shared
per-frame work (sums of the others' masks, owners, first claim) gives the same alphas to the bit
as the person-by-person form it replaced."""

from __future__ import annotations

import pytest
import torch

from vfxmatte.engines.base import EngineInput
from vfxmatte.engines.guided import GuidedEngine
from vfxmatte.refine.core import first_claim, mask_depths, owners, territories

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _capped_person_by_person(alphas: torch.Tensor, land: torch.Tensor) -> torch.Tensor:
    """The O(N^2) form :func:`first_claim` had: each owner caps every other person in turn."""
    capped = alphas.clone()
    for j in range(alphas.shape[0]):
        room = torch.where(land[j] > 0, 1 - alphas[j], torch.ones_like(alphas[j]))
        others = torch.arange(alphas.shape[0]) != j
        capped[others] = torch.minimum(capped[others], room)
    return capped


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_first_claim_equals_capping_person_by_person(n: int):
    g = torch.Generator().manual_seed(n)
    # coarse alpha levels and shared land so that ties (equal rooms, two owners) occur
    alphas = torch.randint(0, 5, (n, 24, 32), generator=g).float() / 4
    land = (torch.rand(n, 24, 32, generator=g) > 0.5).float()
    out = first_claim(alphas, land)
    assert torch.equal(out, _capped_person_by_person(alphas, land))
    if n > 1:
        assert not torch.equal(out, alphas)  # the case caps something: the test can fail


def test_territories_with_given_owners_are_the_same():
    yy, xx = torch.meshgrid(torch.arange(40.0), torch.arange(60.0), indexing="ij")
    masks = torch.stack([(xx < 35).float(), (xx >= 25).float(), ((yy - 20).abs() < 8).float()])
    depths = mask_depths(masks)
    alphas = torch.rand(3, 40, 60, generator=torch.Generator().manual_seed(1))
    owned = owners(depths)
    assert torch.equal(territories(depths, 3, alphas, owned), territories(depths, 3, alphas))
    assert torch.equal(territories(depths, 3, owned=owned), territories(depths, 3))


def _people(n: int, h: int = 96, w: int = 200):
    """``n`` overlapping soft discs in a row (each in front of the one before) over a noisy
    background, with rough masks off by a few px."""
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    g = torch.Generator().manual_seed(3)
    image = torch.tensor([0.2, 0.25, 0.7])[:, None, None] + 0.01 * torch.randn(3, h, w, generator=g)
    masks = []
    for k in range(n):
        cx = 30 + k * (w - 60) / max(1, n - 1)
        r = ((yy - h / 2) ** 2 + (xx - cx) ** 2).sqrt()
        a = ((26 - r) / 3).clamp(0, 1)
        colour = torch.rand(3, generator=g) * 0.6 + 0.3
        image = (1 - a) * image + a * colour[:, None, None]
        masks.append((((yy - h / 2 - 2) ** 2 + (xx - cx + 1) ** 2).sqrt() < 28).float())
    return image.clamp(0, 1), torch.stack(masks)


def test_engine_with_many_people_does_not_depend_on_their_order():
    """Shared sums and ROI crops of the others' masks must give every person the same alpha
    whatever the order: a sum or crop of the wrong person or region would break this."""
    image, masks = _people(4)
    engine = GuidedEngine("cpu", {"search_min": 6})
    names = ["a", "b", "c", "d"]
    out = engine.matte(EngineInput(image=image, masks=masks, names=names))
    order = [2, 0, 3, 1]
    back = engine.matte(EngineInput(image=image, masks=masks[order], names=names))
    assert torch.equal(back.alphas, out.alphas[order])
    assert torch.equal(back.cores, out.cores[order])
    # the neighbours matter: a person's alpha alone differs from theirs among the others
    alone = engine.matte(EngineInput(image=image, masks=masks[1:2], names=["b"])).alphas[0]
    assert not torch.equal(alone, out.alphas[1])


def test_a_person_apart_from_the_others_skips_the_first_pass_with_the_same_result(monkeypatch):
    """The first of the two trimap passes only feeds the others' trimaps inside their regions
    of interest, so it is skipped for a person whose region meets nobody's: forcing it back
    (every region 'meets another') must give the same alphas, cores and trimaps to the bit."""
    from vfxmatte.engines import guided

    image, masks = _people(4, w=520)
    masks[2] = 0  # a gap: the last person stands apart from the first two
    inp = EngineInput(image=image, masks=masks, names=["a", "b", "c", "d"])
    engine = GuidedEngine("cpu", {"search_min": 6})
    skipped = []
    real = guided._meets_another

    def spy(i, rois):
        met = real(i, rois)
        if not met:
            skipped.append(i)
        return met

    monkeypatch.setattr(guided, "_meets_another", spy)
    fast = engine.matte(inp)
    assert skipped == [3]
    monkeypatch.setattr(guided, "_meets_another", lambda i, rois: True)
    full = engine.matte(inp)
    assert torch.equal(fast.alphas, full.alphas)
    assert torch.equal(fast.cores, full.cores)
    assert torch.equal(fast.diagnostics["trimaps"], full.diagnostics["trimaps"])
