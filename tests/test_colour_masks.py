"""Colour defaults and conversions (OCIO), mask sources (per-instance files, ID maps)."""

import cv2
import numpy as np
import pytest

from vfxmatte.errors import BadArgumentError, InvalidInputError
from vfxmatte.io.colour import (
    ColourConverter,
    default_colorspace,
    encoding_colorspace,
    load_config,
    resolve_colorspace,
)
from vfxmatte.io.images import Window, write_exr
from vfxmatte.masks.sources import IdMapMasks, MaskState, PerInstanceMasks, fit_to_plate


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_defaults_follow_metadata_then_bit_depth(config):
    srgb = encoding_colorspace(config, "srgb")
    assert default_colorspace(config, None, False, 8) == srgb
    assert default_colorspace(config, None, True, 16) == resolve_colorspace(config, "scene_linear")
    assert default_colorspace(config, "lin_rec709_scene", True, 16) == "Linear Rec.709 (sRGB)"
    assert default_colorspace(config, None, False, 10, "dpx") == "ADX10"


def test_unknown_colourspace_is_a_bad_argument(config):
    with pytest.raises(BadArgumentError, match="unknown colourspace 'nope'"):
        resolve_colorspace(config, "nope")


def test_linear_to_srgb_keeps_values_above_one(config):
    conv = ColourConverter(config, "Linear Rec.709 (sRGB)", encoding_colorspace(config, "srgb"))
    rgb = np.array([[[0.0, 0.18, 1.0], [2.0, 4.0, 0.5]]], np.float32)
    out = conv.apply(rgb)
    assert out[0, 0, 0] == pytest.approx(0.0, abs=1e-6)
    assert out[0, 0, 1] == pytest.approx(0.4614, abs=2e-3)  # sRGB encoding of 18% grey
    assert out[0, 0, 2] == pytest.approx(1.0, abs=1e-4)
    assert out[0, 1, 0] > 1.0 and out[0, 1, 1] > out[0, 1, 0]  # not clipped
    assert rgb[0, 1, 1] == 4.0  # input untouched


def test_per_instance_masks_states_and_display_size(tmp_path):
    data, display = Window(10, 5, 40, 20), Window(0, 0, 64, 32)
    full = np.zeros((32, 64), np.uint8)
    full[5:25, 10:30] = 255  # drawn at display size, covering the data window's left half
    cv2.imwrite(str(tmp_path / "a.0001.png"), full)
    cv2.imwrite(str(tmp_path / "b.0001.png"), np.zeros((20, 40), np.uint8))  # data size, empty
    source = PerInstanceMasks(
        {"person a": str(tmp_path / "a.####.png"), "b": str(tmp_path / "b.####.png")}
    )
    frame = source.load(1, data, display)
    assert frame.names == ["person_a", "b"]
    assert frame.states == {"person_a": MaskState.OK, "b": MaskState.EMPTY}
    assert frame.masks[0][:, :20].min() == 1.0 and frame.masks[0][:, 20:].max() == 0.0
    missing = source.load(2, data, display)
    assert missing.states["person_a"] == MaskState.MISSING


def test_mask_of_another_resolution_is_refused():
    with pytest.raises(InvalidInputError, match="render masks at plate resolution"):
        fit_to_plate(
            np.zeros((10, 10), np.float32),
            Window(0, 0, 40, 20),
            Window(0, 0, 40, 20),
            "mask p frame 1",
        )


def test_all_empty_mask_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "a.0001.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(InvalidInputError, match="empty on every requested frame"):
        PerInstanceMasks({"a": str(tmp_path / "a.####.png")}).check_not_all_empty([1])


def test_id_map_layers_are_stable_names(tmp_path):
    w = Window(0, 0, 16, 8)
    ids = np.zeros((8, 16), np.float32)
    ids[:, :5] = 3
    ids[:, 10:] = 12
    write_exr(tmp_path / "ids.0001.exr", {"R": ids}, w, w, pixel_type="float")
    png = np.zeros((8, 16), np.uint8)
    png[:, :4] = 3
    cv2.imwrite(str(tmp_path / "ids.0002.exr.png"), png)
    source = IdMapMasks(str(tmp_path / "ids.####.exr"))
    source.discover_ids([1])
    assert source.names == ["person03", "person12"]
    frame = source.load(1, w, w)
    assert frame.masks[0][:, :5].all() and not frame.masks[0][:, 5:].any()
    assert frame.masks[1][:, 10:].all()
    assert source.load(2, w, w).states["person03"] == MaskState.MISSING
    png_source = IdMapMasks(str(tmp_path / "ids.####.exr.png"), ids=[3])
    assert png_source.load(2, w, w).masks[0][:, :4].all()  # 8-bit ids read as integers
