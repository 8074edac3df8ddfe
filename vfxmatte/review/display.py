"""How the review viewer turns the scene-linear plate into screen pixels, as a comp viewer does:
exposure in stops on linear light, then the OCIO config's display and view, then a display gamma.

Kept free of Qt so the look is testable without a display; the window only holds the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import PyOpenColorIO as ocio

from vfxmatte.errors import BadArgumentError
from vfxmatte.io.colour import resolve_colorspace

CHANNELS = ("R", "G", "B", "A")  # the viewer's channel keys, as in Nuke's viewer


@dataclass(frozen=True)
class ViewSettings:
    """What the viewer shows: display/view of the config, exposure (stops), gamma, channel."""

    display: str
    view: str
    exposure: float = 0.0
    gamma: float = 1.0
    channel: str | None = None  # None: RGB; "R", "G", "B": that channel as grey; "A": alpha

    def with_channel(self, channel: str | None) -> ViewSettings:
        """Pressing a channel key again returns to RGB (Nuke's behaviour)."""
        return replace(self, channel=None if channel == self.channel else channel)


class DisplayLook:
    """The config's displays and views, and the processor for each pair (built once)."""

    def __init__(self, config: ocio.Config):
        self.config = config
        self.linear = resolve_colorspace(config, "scene_linear")
        self._processors: dict[tuple[str, str], ocio.CPUProcessor] = {}

    def displays(self) -> list[str]:
        return list(self.config.getDisplays())

    def views(self, display: str) -> list[str]:
        return list(self.config.getViews(display))

    def default_settings(self) -> ViewSettings:
        display = self.config.getDefaultDisplay()
        return ViewSettings(display, self.config.getDefaultView(display))

    def check(self, settings: ViewSettings) -> ViewSettings:
        """The settings if the config has that display and view; else a one-line error."""
        if settings.display not in self.displays():
            raise BadArgumentError(
                f"--display {settings.display}: the OCIO config has {', '.join(self.displays())}"
            )
        if settings.view not in self.views(settings.display):
            views = ", ".join(self.views(settings.display))
            raise BadArgumentError(
                f"--view-transform {settings.view}: {settings.display} has {views}"
            )
        if settings.gamma <= 0:
            raise BadArgumentError(f"--gamma {settings.gamma}: must be above 0")
        if settings.channel not in (None, *CHANNELS):
            raise BadArgumentError(f"--channel {settings.channel}: choose R, G, B or A")
        return settings

    def apply(self, linear: np.ndarray, settings: ViewSettings) -> np.ndarray:
        """(h, w, 3) scene-linear -> (h, w, 3) float display pixels in [0, 1]."""
        rgb = np.asarray(linear, dtype=np.float32) * np.float32(2.0**settings.exposure)
        rgb = np.ascontiguousarray(rgb)
        self._processor(settings.display, settings.view).applyRGB(rgb)
        rgb = np.clip(rgb, 0.0, 1.0)
        if settings.gamma != 1.0:
            rgb = rgb ** np.float32(1.0 / settings.gamma)
        return rgb

    def _processor(self, display: str, view: str) -> ocio.CPUProcessor:
        key = (display, view)
        if key not in self._processors:
            transform = ocio.DisplayViewTransform(src=self.linear, display=display, view=view)
            processor = self.config.getProcessor(transform)
            self._processors[key] = processor.getDefaultCPUProcessor()
        return self._processors[key]
