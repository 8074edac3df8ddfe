"""maggie network: shapes for 1, 3, 10 and 13 instances, empty slots, range, crop == whole frame.

All on the narrow test config (TINY) at 64x48 px with random weights: these check the plumbing
(what goes in comes out, per instance, in range), not matting quality (test_maggie_train does).
"""

from __future__ import annotations

import pytest
import torch

from vfxmatte.engines.maggie.config import TINY
from vfxmatte.engines.maggie.id_embed import IDEmbedding
from vfxmatte.engines.maggie.model import MaggieNet, run_passes

H, W = 48, 64


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return MaggieNet(TINY).eval()


def _masks(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(1, n, H, W)
    for i in range(n):
        y, x = (
            int(torch.randint(0, H - 16, (1,), generator=g)),
            int(torch.randint(0, W - 16, (1,), generator=g)),
        )
        masks[0, i, y : y + 16, x : x + 12] = 1.0
    return masks


@pytest.mark.parametrize("n", [1, 3, 10, 13])
def test_shapes_and_range(net, one_torch_thread, n):
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(n))
    with torch.no_grad():
        alphas, states = run_passes(net, image, _masks(n))
    assert alphas.shape == (1, n, H, W)
    assert len(states) == (n + 9) // 10
    assert torch.isfinite(alphas).all()
    assert alphas.min() >= 0.0 and alphas.max() <= 1.0


def test_empty_slots_are_ignored(net, one_torch_thread):
    """An empty slot gives zero alpha and does not change the other instances' alphas."""
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(3))
    masks = _masks(3)
    padded = torch.cat([masks, torch.zeros(1, 4, H, W)], 1)
    with torch.no_grad():
        a = net(image, masks).alpha
        b = net(image, padded).alpha
    assert torch.all(b[:, 3:] == 0)
    torch.testing.assert_close(a, b[:, :3], atol=1e-5, rtol=0)


def test_an_all_empty_pass_is_zero_not_nan(net, one_torch_thread):
    with torch.no_grad():
        out = net(torch.rand(1, 3, H, W), torch.zeros(1, 2, H, W))
    assert torch.all(out.alpha == 0)


def test_cropped_refinement_equals_whole_frame(net, one_torch_thread):
    image = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(5))
    masks = torch.cat([_masks(2, 7), _masks(2, 8)])
    with torch.no_grad():
        cropped = net(image, masks, crop=True).alpha
        whole = net(image, masks, crop=False).alpha
    torch.testing.assert_close(cropped, whole, atol=1e-6, rtol=0)


def test_recurrent_state_carries_and_resets(net, one_torch_thread):
    image, masks = torch.rand(1, 3, H, W), _masks(2)
    with torch.no_grad():
        first = net(image, masks)
        second = net(image, masks, first.state)
        again = net(image, masks)
    assert not torch.equal(first.state, torch.zeros_like(first.state))
    assert not torch.allclose(first.alpha, second.alpha)  # the state changes the result
    torch.testing.assert_close(first.alpha, again.alpha)  # no state = a new shot


def test_id_map_averages_where_instances_overlap():
    embed = IDEmbedding(10, 4)
    masks = torch.zeros(1, 3, 2, 2)
    masks[0, 0, 0, 0] = 1
    masks[0, 1, 0, 0] = 1
    masks[0, 2, 1, 1] = 1
    out = embed(masks)
    table = embed.table.weight.detach()
    torch.testing.assert_close(out[0, :, 0, 0], (table[0] + table[1]) / 2)
    torch.testing.assert_close(out[0, :, 1, 1], table[2])
    assert torch.all(out[0, :, 0, 1] == 0)
