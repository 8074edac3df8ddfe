"""Fast paths of the guided engine's building blocks give the same results as the plain ones.

Why: speed work (OpenCV morphology on CPU masks, cached colour processors, read-ahead and
write-behind) must not change a single output value; each fast path is compared here with the
reference path it replaces, on inputs where they could differ (borders, radii past the image,
batches, non-binary masks).
"""

from __future__ import annotations

import pytest
import torch

from vfxmatte.refine import filters


def _reference(mask: torch.Tensor, radius: int, grow: bool) -> torch.Tensor:
    """The box-filter definition of binary dilation/erosion (clipped windows)."""
    mean = filters.box_filter(mask.float(), radius)
    return ((mean > 1e-6) if grow else (mean > 1 - 1e-6)).to(mask.dtype)


@pytest.mark.parametrize("shape", [(37, 53), (3, 64, 80), (2, 1, 50, 40)])
@pytest.mark.parametrize("radius", [1, 4, 30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_morphology_fast_path_matches_box_filter(one_torch_thread, shape, radius, dtype):
    gen = torch.Generator().manual_seed(radius)
    mask = (torch.rand(shape, generator=gen) > 0.6).to(dtype)
    for op, grow in ((filters.dilate, True), (filters.erode, False)):
        out = op(mask, radius)
        assert out.dtype == dtype and out.shape == mask.shape
        assert torch.equal(out, _reference(mask, radius, grow)), (op.__name__, shape, radius)


def test_morphology_borders_and_soft_masks(one_torch_thread):
    # a mask touching the border is not eaten from outside; a soft mask takes the box path
    mask = torch.zeros(20, 30)
    mask[:8, :10] = 1
    assert filters.erode(mask, 2)[0, 0] == 1 and filters.erode(mask, 2)[7, 0] == 0
    assert filters.dilate(mask, 3)[10, 12] == 1 and filters.dilate(mask, 3)[11, 0] == 0
    soft = mask * 0.5
    assert torch.equal(filters.dilate(soft, 3), _reference(soft, 3, True))
    assert torch.equal(filters.erode(soft, 3), _reference(soft, 3, False))


def test_morphology_on_device(device):
    mask = (torch.rand(3, 40, 50) > 0.5).float()
    out = filters.dilate(mask.to(device), 2).cpu()
    assert torch.equal(out, filters.dilate(mask, 2))


# -- read-ahead and write-behind (vfxmatte.io.prefetch) ----------------------------------------


def test_read_ahead_returns_what_load_returns_and_reads_ahead():
    import threading

    from vfxmatte.io.prefetch import ReadAhead

    loaded: list[int] = []
    lock = threading.Lock()

    def load(frame: int) -> int:
        with lock:
            loaded.append(frame)
        if frame == 13:
            raise ValueError("frame 13 is corrupt")
        return frame * 10

    reads = ReadAhead(load, lambda f: 1 <= f <= 15, step=2, depth=1)
    try:
        assert reads.get(1) == 10  # a miss: read in place, frame 3 started
        assert reads.get(3) == 30 and reads.hits == 1
        assert reads.get(9) == 90  # out of order: frame 5 dropped, read in place
        assert reads.get(11) == 110
        with pytest.raises(ValueError, match="frame 13"):
            reads.get(13)  # a prefetched frame's error surfaces when it is asked for
        assert reads.get(15) == 150
    finally:
        reads.close()
    assert 17 not in loaded  # nothing past what exists


def test_write_behind_keeps_order_bounds_the_queue_and_raises_errors():
    import threading

    from vfxmatte.io.prefetch import WriteBehind, write_behind

    gate = threading.Event()
    written: list[int] = []

    def write(item: int) -> str:
        gate.wait(5)
        if item == 4:
            raise OSError("disk full")
        written.append(item)
        return f"f{item}"

    writer = WriteBehind(depth=1)
    writer.submit(write, 1)
    assert list(writer.drain()) == []  # one may stay pending
    writer.submit(write, 2)
    gate.set()
    first = list(writer.drain())  # two pending > depth: waits for the oldest (and takes
    rest = list(writer.drain(wait=True))  # whatever else is done by then)
    assert first[0][:2] == (1, "f1")
    assert [(i, r) for i, r, _ in first + rest] == [(1, "f1"), (2, "f2")]
    writer.submit(write, 4)
    with pytest.raises(OSError, match="disk full"):
        list(writer.drain(wait=True))
    writer.close()

    # leaving the block on an error still lets queued writes land
    gate.clear()
    with pytest.raises(KeyboardInterrupt), write_behind(1) as w:
        w.submit(write, 7)
        threading.Timer(0.2, gate.set).start()
        raise KeyboardInterrupt
    assert written[-1] == 7


def test_write_behind_depth_zero_writes_in_place():
    from vfxmatte.io.prefetch import WriteBehind

    writer = WriteBehind(depth=0)
    out: list[int] = []
    writer.submit(out.append, 5)
    assert out == [5]
    assert [i for i, _, _ in writer.drain()] == [5]


def test_colour_conversion_in_place_equals_the_copy():
    import numpy as np

    from vfxmatte.io.colour import ColourConverter, load_config

    config = load_config(None)
    conv = ColourConverter(config, "scene_linear", "sRGB Encoded Rec.709 (sRGB)")
    rgb = np.random.default_rng(1).random((16, 24, 3), dtype=np.float32) * 1.5
    before = rgb.copy()
    copied = conv.apply(rgb)
    assert np.array_equal(rgb, before)  # the default never touches its input
    done = conv.apply(rgb, in_place=True)
    assert done is rgb and np.array_equal(done, copied) and copied.max() > 1  # > 1 kept
    strided = before[:, ::2]  # not contiguous: converted into a new array either way
    assert np.array_equal(conv.apply(strided, in_place=True), conv.apply(before)[:, ::2])
