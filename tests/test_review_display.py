"""The review viewer's look without a display: exposure, OCIO display/view, gamma, channels,
and propagated masks as a state rather than a suspicion."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vfxmatte.errors import BadArgumentError
from vfxmatte.io.colour import load_config
from vfxmatte.review import compose
from vfxmatte.review.compose import ViewMode
from vfxmatte.review.display import DisplayLook, ViewSettings
from vfxmatte.review.model import FrameImages
from vfxmatte.review.stability import analyse


@pytest.fixture(scope="module")
def look() -> DisplayLook:
    return DisplayLook(load_config())


def test_exposure_is_stops_of_linear_light_before_the_view(look):
    raw = ViewSettings("sRGB - Display", "Un-tone-mapped")
    grey = np.full((1, 1, 3), 0.18, np.float32)
    # one stop up of 0.18 is 0.36 linear, whatever the view does afterwards
    up = look.apply(grey, ViewSettings(raw.display, raw.view, exposure=1.0))
    np.testing.assert_allclose(up, look.apply(grey * 2, raw), atol=1e-6)
    # a highlight at 4.0 clips at 0 stops and comes back at -3 stops (values above 1 are kept)
    bright = np.full((1, 1, 3), 4.0, np.float32)
    assert look.apply(bright, raw).min() == 1.0
    assert look.apply(bright, ViewSettings(raw.display, raw.view, exposure=-3.0)).max() < 0.9


def test_view_and_gamma_change_the_picture(look):
    grey = np.full((1, 1, 3), 0.18, np.float32)
    plain = look.apply(grey, ViewSettings("sRGB - Display", "Un-tone-mapped"))
    assert plain[0, 0, 0] == pytest.approx(0.46, abs=0.01)  # the sRGB encoding of 18% grey
    tone_mapped = look.apply(grey, look.default_settings())
    assert abs(float(tone_mapped[0, 0, 0]) - float(plain[0, 0, 0])) > 0.05
    brighter = look.apply(grey, ViewSettings("sRGB - Display", "Un-tone-mapped", gamma=2.0))
    np.testing.assert_allclose(brighter, plain**0.5, atol=1e-5)


def test_settings_are_checked_against_the_config(look):
    with pytest.raises(BadArgumentError, match="--display"):
        look.check(ViewSettings("No Such Display", "Raw"))
    with pytest.raises(BadArgumentError, match="--view-transform"):
        look.check(ViewSettings("sRGB - Display", "No Such View"))
    with pytest.raises(BadArgumentError, match="--gamma"):
        look.check(ViewSettings("sRGB - Display", "Raw", gamma=0.0))
    assert ViewSettings("d", "v").with_channel("R").channel == "R"
    assert ViewSettings("d", "v", channel="R").with_channel("R").channel is None  # toggles back


def _images(frame: int = 1001, states: dict[str, str] | None = None) -> FrameImages:
    alphas = np.zeros((2, 16, 16), np.float16)
    alphas[0, 2:10, 2:10] = 1.0
    alphas[1, 8:16, 8:16] = 1.0
    linear = np.zeros((16, 16, 3), np.float16)
    linear[..., 0] = 0.8  # a red plate
    linear[..., 2] = 0.05
    plate = np.zeros((16, 16, 3), np.uint8)
    return FrameImages(frame, alphas, plate, 1.0, states or {}, None, linear)


def test_channels_show_one_channel_as_grey_and_a_as_alpha(look):
    images = _images()
    settings = ViewSettings("sRGB - Display", "Un-tone-mapped")
    kw = {"look": lambda x: look.apply(x, settings)}
    rgb = compose.render(images, ViewMode.PLATE, None, **kw)
    red = compose.render(images, ViewMode.PLATE, None, channel="R", **kw)
    blue = compose.render(images, ViewMode.PLATE, None, channel="B", **kw)
    assert np.all(red[..., 0] == red[..., 1]) and np.all(red[..., 1] == red[..., 2])
    np.testing.assert_array_equal(red[..., 0], rgb[..., 0])
    assert red.mean() > blue.mean()
    alpha = compose.render(images, ViewMode.PLATE, 0, channel="A", **kw)
    np.testing.assert_array_equal(alpha, compose.render(images, ViewMode.ALPHA, 0))
    # without a look the sRGB proxy is shown, as before
    assert compose.render(images, ViewMode.PLATE, None).max() == 0


def test_propagated_masks_are_a_state_not_a_suspicion():
    frames = [1001, 1002, 1003]
    states = {1001: {}, 1002: {"a": "propagated", "b": "propagated"}, 1003: {"b": "missing"}}
    source = SimpleNamespace(
        result=SimpleNamespace(
            frames=frames, people=["a", "b"], path=lambda f: f"/nonexistent/m.{f}.exr"
        ),
        images=lambda f: _images(f, states[f]),
    )
    report = analyse(source, frames)
    assert report.states[1002] == {"a": "propagated", "b": "propagated"}
    assert 1002 not in report.flags
    assert report.flags[1003]["b"] == ["mask missing"]
