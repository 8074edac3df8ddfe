"""Round trips on real files: windows, metadata, DPX code values, layers by name."""

import numpy as np
import OpenImageIO as oiio
import pytest

from vfxmatte.errors import InvalidInputError, MissingInputError
from vfxmatte.io.images import Window, check_finite, exr_is_complete, read_image, write_exr
from vfxmatte.masks.names import sanitize_layer_name, unique_layer_names


def _write_plate_4k_window(path):
    """A 4K half EXR whose 1000x500 data window sits inside a 4096x2160 display window."""
    spec = oiio.ImageSpec(1000, 500, 3, oiio.HALF)
    spec.x, spec.y = 1200, 800
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, 4096, 2160
    spec.channelnames = ("R", "G", "B")
    spec.attribute("compression", "piz")
    spec.attribute("show:shot", "sq010_sh020")
    spec.attribute("DateTime", "2026:11:25 10:00:00")  # EXR capDate
    spec.attribute("framesPerSecond", oiio.TypeDesc("rational2i"), (24, 1))
    rng = np.random.default_rng(0)
    pixels = rng.random((500, 1000, 3), dtype=np.float32) * 4.0  # scene-linear, above 1
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    out.write_image(pixels)
    out.close()
    return pixels


def test_4k_data_window_and_metadata_round_trip(tmp_path):
    src = tmp_path / "plate.1001.exr"
    pixels = _write_plate_4k_window(src)
    plate = read_image(src)
    assert plate.data_window == Window(1200, 800, 1000, 500)
    assert plate.display_window == Window(0, 0, 4096, 2160)
    assert plate.pixel_format == "half"
    np.testing.assert_allclose(plate.rgb(), pixels, rtol=1e-3)  # half precision

    alpha = np.linspace(0, 1, 500 * 1000, dtype=np.float32).reshape(500, 1000)
    out = tmp_path / "out" / "matte.1001.exr"
    write_exr(
        out,
        {"A": alpha, "person01.A": alpha, "person02.A": 1 - alpha},
        plate.data_window,
        plate.display_window,
        metadata=plate.metadata,
        extra_attributes={"vfxmatte:engine": "guided"},
        compression="zip",
    )
    back = read_image(out)
    assert back.data_window == plate.data_window
    assert back.display_window == plate.display_window
    meta = {name: value for name, _, value in back.metadata}
    assert meta["show:shot"] == "sq010_sh020"
    assert meta["DateTime"] == "2026:11:25 10:00:00"  # EXR capDate, as OIIO names it
    assert tuple(meta["framesPerSecond"]) == (24, 1)
    assert meta["vfxmatte:engine"] == "guided"
    # Channels by name: the writer reorders them, so position means nothing.
    np.testing.assert_allclose(back.channel("person02.A"), 1 - alpha, atol=1e-3)
    np.testing.assert_allclose(back.channel("person01.A"), alpha, atol=1e-3)
    assert not list(out.parent.glob(".*"))  # no temp file left behind


def test_dpx_10bit_code_values(tmp_path):
    path = tmp_path / "plate.1001.dpx"
    codes = np.array([[0, 1, 64, 95, 445, 512, 685, 1023]], np.uint16).repeat(3, axis=0)
    rgb = np.stack([codes, codes[:, ::-1], np.full_like(codes, 512)], axis=-1)
    spec = oiio.ImageSpec(codes.shape[1], codes.shape[0], 3, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", 10)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    # OIIO's 16-bit API maps 10-bit codes by bit replication: code -> code*64 + code//16.
    out.write_image((rgb.astype(np.uint32) * 64 + rgb // 16).astype(np.uint16))
    out.close()
    plate = read_image(path)
    assert plate.bits_per_sample == 10
    read_codes = np.rint(plate.rgb() * 1023).astype(int)
    np.testing.assert_array_equal(read_codes, rgb)


def test_exr_layer_names_survive_and_are_sanitised(tmp_path):
    names = unique_layer_names(["person 01", "1st", "A", "hair.v2", "person 01", ""])
    assert names == ["person_01", "p1st", "A_layer", "hair_v2", "person_01_2", "person"]
    for name in names:  # Nuke/Blender rule: identifier, no leading digit
        assert name[0].isalpha() and name.replace("_", "").isalnum()
    w = Window(0, 0, 16, 8)
    layers = {f"{n}.A": np.full((8, 16), i / 10, np.float32) for i, n in enumerate(names)}
    write_exr(tmp_path / "m.exr", layers, w, w)
    back = read_image(tmp_path / "m.exr")
    for i, n in enumerate(names):
        assert np.allclose(back.channel(f"{n}.A"), i / 10, atol=1e-3)
    assert exr_is_complete(tmp_path / "m.exr", [f"{n}.A" for n in names])
    assert not exr_is_complete(tmp_path / "m.exr", ["ghost.A"])
    assert sanitize_layer_name("Person-1") == "Person_1"


def test_truncated_and_missing_files_are_one_line_errors(tmp_path):
    w = Window(0, 0, 64, 64)
    good = tmp_path / "good.exr"
    write_exr(good, {"R": np.random.rand(64, 64).astype(np.float32)}, w, w, compression="none")
    data = good.read_bytes()
    bad = tmp_path / "bad.exr"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError) as err:
        read_image(bad, "plate frame 12")
    assert "plate frame 12" in str(err.value) and "\n" not in str(err.value)
    assert not exr_is_complete(bad)
    with pytest.raises(MissingInputError):
        read_image(tmp_path / "nope.exr")


def test_nan_pixels_are_refused(tmp_path):
    w = Window(10, 20, 8, 8)
    px = np.ones((8, 8), np.float32)
    px[3, 5] = np.nan
    write_exr(
        tmp_path / "n.exr", {"R": px, "G": px, "B": px}, w, Window(0, 0, 64, 64), pixel_type="float"
    )
    with pytest.raises(InvalidInputError, match=r"x=15 y=23"):
        check_finite(read_image(tmp_path / "n.exr"), "plate frame 1")
