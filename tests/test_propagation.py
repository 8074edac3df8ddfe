"""Keyframe mask propagation on a small synthetic shot with known motion (fast)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vfxmatte.errors import BadArgumentError, MissingInputError
from vfxmatte.flow import to_grey
from vfxmatte.io.images import Window
from vfxmatte.masks.propagation import PropagatedMasks, resolve_keyframes
from vfxmatte.masks.sources import MaskState, PerInstanceMasks

H, W, N = 120, 200, 10
WINDOW = Window(0, 0, W, H)


def _texture(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.random((h // 6 + 2, w // 6 + 2, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _disk(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).astype(np.float32)


class Shot:
    """Two textured 'people' (disks) walking right at different speeds over a panning street."""

    def __init__(self) -> None:
        bg = _texture(1, H, W + 2 * N) * 0.45  # darker than the people, as a person is to a street
        pad = 4 * N
        skin = [0.55 + 0.45 * _texture(s, H, W + 2 * pad) for s in (2, 3)]
        self.frames, self.truth = [], []
        for t in range(N):
            img = bg[:, 2 * t : 2 * t + W].copy()
            masks = [_disk(50 + 3 * t, 60, 24), _disk(150 + 2 * t, 62, 22)]
            # each person's texture moves with them (3 and 2 px right per frame)
            skins = [
                skin[0][:, pad - 3 * t : pad - 3 * t + W],
                skin[1][:, pad - 2 * t : pad - 2 * t + W],
            ]
            for m, s in zip(masks, skins, strict=True):
                img = img * (1 - m[..., None]) + s * m[..., None]
            self.frames.append(img.astype(np.float32))
            self.truth.append(np.stack(masks))

    def write_masks(self, folder, frames):
        for t in frames:
            for i, name in enumerate(("a", "b")):
                cv2.imwrite(
                    str(folder / f"{name}.{t:04d}.png"), (self.truth[t][i] * 255).astype(np.uint8)
                )
        return PerInstanceMasks({n: str(folder / f"{n}.####.png") for n in ("a", "b")})

    def grey(self, frame: int) -> np.ndarray:
        return to_grey(self.frames[frame])


@pytest.fixture(scope="module")
def shot():
    return Shot()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_forward_from_one_keyframe_follows_each_person(shot, tmp_path):
    inner = shot.write_masks(tmp_path, [0])
    keys = resolve_keyframes(inner, list(range(N)), None)
    assert keys == {"a": [0], "b": [0]}
    source = PropagatedMasks(inner, keys, list(range(N)), shot.grey)
    for t in range(1, N):
        frame = source.load(t, WINDOW, WINDOW)
        assert frame.states == {"a": MaskState.PROPAGATED, "b": MaskState.PROPAGATED}
        assert not ((frame.masks[0] > 0.5) & (frame.masks[1] > 0.5)).any()
        for i in range(2):
            assert _iou(frame.masks[i], shot.truth[t][i]) > 0.85, (t, i)
    # Without propagation the person would have stayed where the keyframe put them.
    assert _iou(shot.truth[0][0], shot.truth[N - 1][0]) < 0.6


def test_two_keyframes_and_per_frame_masks_win(shot, tmp_path):
    inner = shot.write_masks(tmp_path, [0, N - 1])
    odd = np.zeros((H, W), np.uint8)
    odd[10:30, 10:30] = 255  # a deliberately different mask on frame 4 for person a only
    cv2.imwrite(str(tmp_path / "a.0004.png"), odd)
    keys = resolve_keyframes(inner, list(range(N)), None)
    assert keys == {"a": [0, 4, N - 1], "b": [0, N - 1]}
    source = PropagatedMasks(inner, keys, list(range(N)), shot.grey)
    f4 = source.load(4, WINDOW, WINDOW)
    assert f4.states == {"a": MaskState.OK, "b": MaskState.PROPAGATED}
    assert np.array_equal(f4.masks[0] > 0.5, odd > 0)
    mid = source.load(6, WINDOW, WINDOW)
    assert _iou(mid.masks[1], shot.truth[6][1]) > 0.85
    # --keyframes limits which files are trusted: frame 4's odd mask is then ignored.
    only = resolve_keyframes(inner, list(range(N)), [0, N - 1])
    source = PropagatedMasks(inner, only, list(range(N)), shot.grey)
    f4 = source.load(4, WINDOW, WINDOW)
    assert f4.states["a"] == MaskState.PROPAGATED
    assert _iou(f4.masks[0], shot.truth[4][0]) > 0.85


def test_keyframe_errors(shot, tmp_path):
    inner = shot.write_masks(tmp_path, [0, 3])
    with pytest.raises(BadArgumentError, match="outside the plate's frames"):
        resolve_keyframes(inner, list(range(N)), [0, 40])
    with pytest.raises(MissingInputError, match="no mask file on that frame"):
        resolve_keyframes(inner, list(range(N)), [0, 5])
    (tmp_path / "b.0000.png").unlink()
    (tmp_path / "b.0003.png").unlink()
    with pytest.raises(MissingInputError, match="mask 'b' has no file"):
        resolve_keyframes(inner, list(range(N)), None)
