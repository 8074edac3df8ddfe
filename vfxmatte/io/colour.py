"""Colour management with OpenColorIO.

The plate's colourspace is named (``--colorspace``), else read from file metadata, else guessed
from the bit depth (sRGB for integer files, the config's scene_linear role for float, ADX10 for
10-bit DPX log). Engines ask for an encoding (display-referred sRGB for every engine so far) and
get it; alpha is data and never passes through here. Values above 1 survive every conversion.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from vfxmatte.errors import BadArgumentError
from vfxmatte.io.images import ImageFrame

DEFAULT_CONFIG = "ocio://studio-config-latest"

# What each engine input encoding is called; the first name the config knows wins.
ENCODING_CANDIDATES: dict[str, tuple[str, ...]] = {
    "srgb": (
        "srgb_rec709_scene",
        "sRGB Encoded Rec.709 (sRGB)",
        "srgb_tx",
        "sRGB - Texture",
        "sRGB",
        "texture_paint",
    ),
    "linear": ("lin_rec709_scene", "Linear Rec.709 (sRGB)", "scene_linear"),
}

# Friendly names users type, tried when the config itself does not know the name.
USER_ALIASES: dict[str, tuple[str, ...]] = {
    "srgb": ENCODING_CANDIDATES["srgb"],
    "linear": ("scene_linear",),
    "scene-linear": ("scene_linear",),
    "scene_linear": ("scene_linear",),
    "acescg": ("ACEScg",),
    "log": ("ADX10", "compositing_log"),
    "cineon": ("ADX10",),
    "kodaklog": ("ADX10",),
    "raw": ("Raw", "data", "raw"),
}


def config_source() -> str:
    """Where the config comes from: $OCIO if set, else the built-in studio config."""
    return os.environ.get("OCIO") or DEFAULT_CONFIG


@lru_cache(maxsize=4)
def load_config(source: str | None = None) -> ocio.Config:
    """Load an OCIO config (file path or ``ocio://`` URI) with a one-line error when it fails."""
    source = source or config_source()
    try:
        if source.startswith("ocio://"):
            return ocio.Config.CreateFromFile(source)
        if not os.path.isfile(source):
            raise BadArgumentError(f"OCIO config not found: {source}; fix $OCIO or --ocio-config")
        return ocio.Config.CreateFromFile(source)
    except ocio.Exception as exc:
        raise BadArgumentError(f"OCIO config {source} cannot be loaded: {exc}") from exc


def config_name(source: str | None, config: ocio.Config) -> str:
    """What to record as the config used: a built-in ``ocio://`` URI pinned to the exact
    config it resolved to (``latest`` moves with OpenColorIO releases), else the file's path."""
    source = source or config_source()
    if source.startswith("ocio://"):
        return f"ocio://{config.getName()}"
    return os.path.abspath(source)


def _known(config: ocio.Config, name: str) -> str | None:
    canonical = config.getCanonicalName(name)
    if canonical:
        return canonical
    role = config.getRoleColorSpace(name) if config.hasRole(name) else ""
    return role or None


def resolve_colorspace(config: ocio.Config, name: str) -> str:
    """The config's canonical colourspace for a user-given name, role, alias or interop id."""
    found = _known(config, name)
    if found:
        return found
    for candidate in USER_ALIASES.get(name.strip().lower(), ()):
        found = _known(config, candidate)
        if found:
            return found
    near = nearest_colorspaces(config, name)
    hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
    raise BadArgumentError(
        f"unknown colourspace '{name}' in OCIO config {config.getName()}: {hint}"
        f"any name, alias or role of the config works, or srgb, linear, log"
    )


def nearest_colorspaces(config: ocio.Config, name: str, count: int = 3) -> list[str]:
    """The config's names, aliases and roles nearest to a mistyped ``name`` (case ignored), so
    a typo such as 'ACEScgg' suggests 'ACEScg' rather than the config's first entries."""
    spellings: dict[str, str] = {}
    for cs in config.getColorSpaces():
        for spelling in (cs.getName(), *cs.getAliases()):
            spellings.setdefault(spelling.lower(), cs.getName())
    for role, _ in config.getRoles():
        spellings.setdefault(role.lower(), role)
    for alias in USER_ALIASES:
        spellings.setdefault(alias, alias)
    matches = get_close_matches(name.strip().lower(), list(spellings), n=count * 3, cutoff=0.6)
    return list(dict.fromkeys(spellings[m] for m in matches))[:count]


def encoding_colorspace(config: ocio.Config, encoding: str) -> str:
    """The colourspace an engine encoding ("srgb", "linear") maps to in this config."""
    for candidate in ENCODING_CANDIDATES[encoding]:
        found = _known(config, candidate)
        if found:
            return found
    raise BadArgumentError(
        f"OCIO config {config.getName()} has no colourspace for engine encoding '{encoding}'"
    )


def default_colorspace(
    config: ocio.Config,
    file_colorspace: str | None,
    is_float: bool,
    bits_per_sample: int,
    file_format: str = "",
) -> str:
    """The plate's colourspace when the user named none: metadata, else a bit-depth guess."""
    if file_colorspace:
        found = _known(config, file_colorspace)
        if found:
            return found
    if is_float:
        return resolve_colorspace(config, "scene_linear")
    if file_format.lower() in ("dpx", "cineon") and bits_per_sample == 10:
        return resolve_colorspace(config, "log")
    return resolve_colorspace(config, "srgb")


def colorspace_of(config: ocio.Config, image: ImageFrame, named: str | None = None) -> str:
    """The colourspace of a read image: ``named`` (already resolved) wins, else the defaults."""
    return named or default_colorspace(
        config,
        image.file_colorspace,
        image.is_float,
        image.bits_per_sample,
        image.path.suffix.lstrip("."),
    )


@dataclass
class ColourConverter:
    """Converts (H, W, 3) float32 pixels between two colourspaces of one config."""

    config: ocio.Config
    source: str
    target: str

    def __post_init__(self) -> None:
        self._identity = self.source == self.target
        if not self._identity:
            processor = self.config.getProcessor(self.source, self.target)
            self._cpu = processor.getDefaultCPUProcessor()

    def apply(self, rgb: np.ndarray, in_place: bool = False) -> np.ndarray:
        """Converted copy; the input array is left untouched unless ``in_place`` (then a
        contiguous float32 input is converted where it lies: one 4K frame less in memory)."""
        out = np.ascontiguousarray(rgb, dtype=np.float32)
        if out is rgb and not in_place:
            out = out.copy()
        if not self._identity:
            self._cpu.applyRGB(out)
        return out
