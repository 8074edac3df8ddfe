"""Per-shot finetune: learn one shot from a few frames whose alphas a compositor has fixed.

The frames come either from a plate, its rough masks and finished alphas (any readable sequences,
colour-converted as the pipeline converts them), or from a clip in the dev-sets layout (its
``alphas/`` as the fixed frames; used to measure the recipe). Training sees augmented random
crops of those frames only; a fixed set of plain crops of the same frames, drawn with another seed
and never trained on as such, is scored every few steps and stops training when it stops
improving (it catches over-fitting to the augmentations, not a change of content: with three
frames there is no other shot content to hold back). A time budget stops it too. The recipe's
defaults are :class:`FinetuneSettings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vfxmatte.engines.maggie import checkpoint
from vfxmatte.engines.maggie.config import MaggieConfig
from vfxmatte.engines.maggie.guide import alpha_of, guide_for
from vfxmatte.engines.maggie.model import MaggieNet
from vfxmatte.errors import BadArgumentError, MissingInputError
from vfxmatte.training.data import CropSampler, Sample, scaled_sample
from vfxmatte.training.recipe import FinetuneSettings
from vfxmatte.training.train import FitResult, fit


def _guide(image: np.ndarray, masks: np.ndarray, names, frame: int, guide) -> np.ndarray | None:
    """The guide alphas of one frame (see :class:`GuideSource`), or None without a guide."""
    if guide is None:
        return None
    t_image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), np.float32))
    t_masks = torch.from_numpy(np.ascontiguousarray(masks, np.float32))
    values = guide_for(
        t_image.to(guide.device), t_masks.to(guide.device), list(names), frame, guide.template
    )
    return values.cpu().numpy()


@dataclass
class GuideSource:
    """Where a guide network's training guides come from: files through ``template`` (the
    shot's rendered guided pass), else the guided engine run on ``device``."""

    device: torch.device
    template: str | None = None


def clip_samples(
    clip: Path, frames: list[int], long_side: int, guide: GuideSource | None = None
) -> list[Sample]:
    """Frames of a dev-sets clip (``frames/FFFF.*``, ``alphas/FFFF/NN.png``, ``masks/...``),
    with guide alphas when ``guide`` is given (for a ``guide`` network)."""
    from vfxmatte.evaluation import dataset as ds

    dataset = ds.discover(clip)
    by_index = {s.index: s for s in dataset.samples}
    missing = [f for f in frames if f not in by_index]
    if missing:
        raise MissingInputError(
            f"{clip}: no frame(s) {missing} (it has {min(by_index)}-{max(by_index)}); check --frames"
        )
    out = []
    for f in frames:
        loaded = ds.load(by_index[f])
        alphas = _guide(loaded.image, loaded.masks, loaded.names, f, guide)
        out.append(
            scaled_sample(
                loaded.image, loaded.masks, loaded.truths, f"{clip.name}/{f}", long_side, alphas
            )
        )
    return out


def plate_samples(
    plate: str,
    masks: dict[str, str],
    truths: dict[str, str],
    frames: list[int],
    long_side: int,
    colorspace: str | None = None,
    guide: GuideSource | None = None,
) -> list[Sample]:
    """Frames of a plate with rough masks and fixed alphas (per person; people without a fixed
    alpha keep their rough mask as an empty slot, so they neither train nor get penalised)."""
    from vfxmatte.io.colour import (
        ColourConverter,
        colorspace_of,
        encoding_colorspace,
        load_config,
        resolve_colorspace,
    )
    from vfxmatte.io.images import read_image
    from vfxmatte.masks.sources import PerInstanceMasks, fit_to_plate
    from vfxmatte.plates import open_plate
    from vfxmatte.sequence import SequencePath

    unknown = sorted(set(truths) - set(masks))
    if unknown:
        raise BadArgumentError(
            f"--truth {unknown[0]}: no --mask with that name; give each fixed person's rough mask"
        )
    source = open_plate(plate)
    source.check_frames(frames)
    mask_source = PerInstanceMasks(masks)
    config = load_config()
    target = encoding_colorspace(config, "srgb")
    named = resolve_colorspace(config, colorspace) if colorspace else None
    out = []
    for f in frames:
        img = source.read(f)
        conv = ColourConverter(config, colorspace_of(config, img, named), target)
        rgb = np.clip(conv.apply(img.rgb()), 0.0, 1.0)
        mf = mask_source.load(f, img.data_window, img.display_window)
        truth = np.zeros_like(mf.masks)
        keep = np.zeros_like(mf.masks)
        for i, name in enumerate(mf.names):
            raw = next((k for k in truths if k == name or _sanitised(k) == name), None)
            if raw is None:
                continue
            path = SequencePath(truths[raw]).path(f)
            if not path.is_file():
                raise MissingInputError(
                    f"--truth {raw}: no fixed alpha for frame {f} ({path}); fix that frame or "
                    "leave it out of --frames"
                )
            alpha = read_image(path, f"truth {raw} frame {f}")
            values = alpha_of(alpha, name)
            truth[i] = fit_to_plate(
                np.clip(values, 0, 1).astype(np.float32),
                img.data_window,
                img.display_window,
                f"truth {raw} frame {f} ({path})",
            )
            keep[i] = mf.masks[i]
        alphas = _guide(rgb, mf.masks, mf.names, f, guide)
        out.append(scaled_sample(rgb, keep, truth, f"frame {f}", long_side, alphas))
    return out


def _sanitised(name: str) -> str:
    from vfxmatte.masks.names import sanitize_layer_name

    return sanitize_layer_name(name)


def start_network(
    init: str | os.PathLike[str] | None, config: MaggieConfig, rvm_weights: str | None = None
) -> tuple[MaggieNet, str]:
    """The network to finetune: a maggie checkpoint, or RVM's encoder with the rest random."""
    if init:
        return checkpoint.load(init).net, f"maggie checkpoint {init}"
    net = MaggieNet(config)
    return net, checkpoint.init_from_rvm(net, rvm_weights)


def run_finetune(
    net: MaggieNet,
    samples: list[Sample],
    settings: FinetuneSettings,
    device: torch.device,
    on_progress=None,
) -> FitResult:
    """Finetune ``net`` in place on crops of ``samples`` (see the module doc for the stopping)."""
    torch.manual_seed(settings.seed)
    train = CropSampler(samples, settings.crop, seed=settings.seed, augment=True)
    held = CropSampler(samples, settings.crop, seed=settings.seed + 9973, augment=False)
    held.slots = train.slots
    holdout = held.batch(settings.holdout_crops)
    return fit(
        net, train, settings.fit_settings(), device, holdout=holdout, on_progress=on_progress
    )
