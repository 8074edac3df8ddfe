"""What eval compares: an engine of the registry, and baselines, behind one small interface.

Every method gets the same samples (sRGB image in [0, 1], rough masks or trimaps), a clip's
frames in order (:meth:`Method.predict_clip`), and returns (N, H, W) alphas per frame. An engine
runs the pipeline's own per-frame path (consistency, then the bidirectional temporal smoother,
whose lag is absorbed by pushing the whole clip and flushing); a baseline returns raw alphas and
the runner applies the same post-processing, so all are scored under identical rules.

Baselines:

- ``mask``: the rough mask itself as alpha (with trimap guidance: the trimap, 0 / 0.5 / 1).
- ``pymatting-cf``: pymatting 1.1.16 ``estimate_alpha_cf`` (closed-form matting, Levin et al.)
  per instance. Trimap from the rough mask m = (mask >= 0.5) with r = max(1, round(1% of the
  image's long side)): foreground = erode(m, r), background = not dilate(m, r), unknown = the
  rest, a band 2r (2% of the long side) wide centred on the mask's edge; both morphology
  operations use an elliptical (2r+1) x (2r+1) structuring element. With ``--guidance trimaps``
  the dataset's trimap is used as is. The solve is cropped to the unknown band's bounding box
  plus 3 pixels, which gives the same linear system (the 3x3 windows touching the band lie
  inside) at a fraction of the cost. An instance whose trimap has no foreground or no background
  keeps its rough mask (pymatting refuses such trimaps).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from vfxmatte.devices import resolve_device
from vfxmatte.engines import EngineInput, create_engine
from vfxmatte.errors import BadArgumentError, EngineError
from vfxmatte.evaluation.dataset import LoadedSample
from vfxmatte.frame import FramePath

BASELINES = ("mask", "pymatting-cf")
CF_BAND_FRACTION = 0.01  # r as a fraction of the long side; the band is 2r wide
CF_CROP_MARGIN = 3


class Method(ABC):
    """One way of producing alphas for a sample; temporal methods keep state until reset()."""

    name: str
    kind: str  # "engine" | "baseline"
    final = False  # True: predict() returns post-processed alphas (the per-frame path's own)

    @abstractmethod
    def predict(self, loaded: LoadedSample, new_shot: bool) -> np.ndarray:
        """Raw (N, H, W) float32 alphas in [0, 1], one per instance of ``loaded``."""

    def reset(self) -> None:  # noqa: B027 - stateless methods have nothing to reset
        """Forget temporal state (between clips)."""

    def predict_clip(self, clip: Sequence[LoadedSample]) -> list[tuple[np.ndarray, float]]:
        """Alphas and seconds for each frame of one clip (or one image), in order."""
        return [timed(self, loaded, i == 0) for i, loaded in enumerate(clip)]


class EngineMethod(Method):
    """An engine from the registry through the pipeline's own per-frame path
    (:class:`vfxmatte.frame.FramePath`: engine -> consistency -> smoothing), so what eval scores
    is what ``vfxmatte run`` writes for the same frame and settings."""

    kind = "engine"
    final = True  # predict() already applies consistency and smoothing

    def __init__(
        self,
        name: str,
        device: str = "auto",
        options: Mapping[str, Any] | None = None,
        temporal_strength: float = 0.0,
    ):
        self.name = name
        self.device = resolve_device(device)
        self.engine = create_engine(name, self.device, options)
        self.path = FramePath(self.engine, temporal_strength)

    def reset(self) -> None:
        self.engine.reset()

    def predict(self, loaded: LoadedSample, new_shot: bool) -> np.ndarray:
        return self.predict_clip([loaded])[0][0]

    def predict_clip(self, clip: Sequence[LoadedSample]) -> list[tuple[np.ndarray, float]]:
        """Push the clip's frames through the per-frame path and collect what comes out after
        the flush: every frame is scored with its whole temporal window, as ``run`` writes it."""
        alphas: dict[int, np.ndarray] = {}
        seconds: list[float] = []
        for position, loaded in enumerate(clip):
            t0 = time.perf_counter()
            done = self._push(loaded, position)
            seconds.append(time.perf_counter() - t0)
            alphas |= {r.tag: r.alphas for r in done}
        t0 = time.perf_counter()
        alphas |= {r.tag: r.alphas for r in self.path.flush()}
        if seconds:
            seconds[-1] += time.perf_counter() - t0
        return [(alphas[i], seconds[i]) for i in range(len(clip))]

    def _push(self, loaded: LoadedSample, position: int):
        image = torch.from_numpy(np.ascontiguousarray(loaded.image.transpose(2, 0, 1)))
        trimaps = None
        if loaded.trimaps is not None:
            trimaps = torch.from_numpy(loaded.trimaps).to(self.device)
        masks = torch.from_numpy(loaded.masks).to(self.device)
        new_shot = position == 0
        inp = EngineInput(
            image=image.to(self.device),
            masks=masks,
            names=list(loaded.names),
            frame=loaded.sample.index,
            new_shot=new_shot,
            trimaps=trimaps,
        )
        active = [bool(m.any()) for m in loaded.masks]
        joins = not new_shot and loaded.sample.clip is not None
        try:
            return self.path.push(inp, active, tag=position, joins=joins)
        except (torch.OutOfMemoryError, MemoryError):
            raise
        except EngineError as exc:
            raise EngineError(f"{loaded.sample.key}: {exc}") from exc


class MaskBaseline(Method):
    """The rough guidance itself as the alpha: the floor every method must beat."""

    name = "mask"
    kind = "baseline"

    def predict(self, loaded: LoadedSample, new_shot: bool) -> np.ndarray:
        guide = loaded.trimaps if loaded.trimaps is not None else loaded.masks
        return np.clip(guide, 0, 1).astype(np.float32)


def band_trimap(mask: np.ndarray, fraction: float = CF_BAND_FRACTION) -> np.ndarray:
    """Trimap (0 / 0.5 / 1) with an unknown band of 2r around the mask edge, r = fraction x long side."""
    m = (mask >= 0.5).astype(np.uint8)
    r = max(1, int(round(fraction * max(m.shape))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    fg = cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE)
    grown = cv2.dilate(m, kernel, borderType=cv2.BORDER_REPLICATE)
    trimap = np.full(m.shape, 0.5, np.float64)
    trimap[fg > 0] = 1.0
    trimap[grown == 0] = 0.0
    return trimap


def closed_form_alpha(image: np.ndarray, trimap: np.ndarray) -> np.ndarray | None:
    """pymatting's closed-form alpha restricted to the unknown band's bounding box.

    Returns None when the trimap has no foreground or no background (nothing to solve)."""
    from pymatting import estimate_alpha_cf

    alpha = np.where(trimap >= 1.0, 1.0, 0.0)
    unknown = (trimap > 0) & (trimap < 1)
    if not unknown.any():
        return alpha
    if not (trimap >= 1.0).any() or not (trimap <= 0.0).any():
        return None
    ys, xs = np.nonzero(unknown)
    h, w = trimap.shape
    y0, y1 = max(0, ys.min() - CF_CROP_MARGIN), min(h, ys.max() + 1 + CF_CROP_MARGIN)
    x0, x1 = max(0, xs.min() - CF_CROP_MARGIN), min(w, xs.max() + 1 + CF_CROP_MARGIN)
    crop_t = trimap[y0:y1, x0:x1]
    if not (crop_t >= 1.0).any() or not (crop_t <= 0.0).any():
        crop_t = trimap  # the band's box holds no known value of one kind: solve the whole image
        y0, y1, x0, x1 = 0, h, 0, w
    crop_i = image[y0:y1, x0:x1].astype(np.float64)
    # pymatting prints ichol "PERFORMANCE WARNING"s (it retries with a shift) to stdout, where
    # they would break the results table: keep them out of the way.
    with contextlib.redirect_stdout(io.StringIO()):
        alpha[y0:y1, x0:x1] = estimate_alpha_cf(crop_i, crop_t)
    return alpha


class PymattingCF(Method):
    """Closed-form matting per instance with a fixed band (or the dataset's trimap)."""

    name = "pymatting-cf"
    kind = "baseline"

    def __init__(self, band_fraction: float = CF_BAND_FRACTION):
        if importlib.util.find_spec("pymatting") is None:
            raise BadArgumentError(
                "--baseline pymatting-cf needs pymatting: pip install pymatting==1.1.16 "
                "(or vfxmatte[eval])"
            )
        self.band_fraction = band_fraction
        self.fallbacks = 0  # instances that kept their rough mask (trimap without fg or bg)

    def predict(self, loaded: LoadedSample, new_shot: bool) -> np.ndarray:
        out = np.zeros_like(loaded.masks)
        for i in range(len(loaded.names)):
            if loaded.trimaps is not None:
                trimap = loaded.trimaps[i].astype(np.float64)
            else:
                if loaded.masks[i].max() < 0.5:
                    continue  # empty mask: empty layer
                trimap = band_trimap(loaded.masks[i], self.band_fraction)
            alpha = closed_form_alpha(loaded.image, trimap)
            if alpha is None:
                self.fallbacks += 1
                out[i] = loaded.masks[i]
            else:
                out[i] = np.clip(alpha, 0, 1)
        return out


def check_baselines(baselines: list[str]) -> None:
    """Refuse unknown baseline names before any work starts."""
    for b in baselines:
        if b not in BASELINES:
            raise BadArgumentError(f"--baseline {b}: choose one of {', '.join(BASELINES)}")


def make_methods(
    engine: str | None,
    baselines: list[str],
    device: str = "auto",
    engine_options: Mapping[str, Any] | None = None,
    temporal_strength: float = 0.0,
) -> list[Method]:
    """The engine (first) and the baselines, in the order given; names must be unique."""
    check_baselines(baselines)
    methods: list[Method] = []
    if engine:
        methods.append(EngineMethod(engine, device, engine_options, temporal_strength))
    for b in baselines:
        if any(m.name == b for m in methods):
            continue
        methods.append(MaskBaseline() if b == "mask" else PymattingCF())
    if not methods:
        raise BadArgumentError("nothing to evaluate: give --engine and/or --baseline")
    return methods


def timed(method: Method, loaded: LoadedSample, new_shot: bool) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    alphas = method.predict(loaded, new_shot)
    return alphas, time.perf_counter() - t0
