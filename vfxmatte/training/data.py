"""Training samples and the random crops (with augmentations) the training loop eats.

A :class:`Sample` is one frame in memory: image, rough masks and true alphas per instance, already
at the scale the network will work at. Sources: any set in the dev-sets layout (what
``vfxmatte synth`` writes, or the real dev-sets), toy composites made here from a seed (for tests
and smoke runs), or a shot's fixed frames (:mod:`vfxmatte.training.finetune`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vfxmatte.evaluation import dataset as ds


@dataclass
class Sample:
    """image (3,H,W) sRGB [0,1]; masks and truth (N,H,W) [0,1]; key names it in messages.

    guide (N,H,W): the guide alphas a ``guide`` network reads (the guided engine's); None when
    the network has no guide input (the crops then carry the masks in its place).
    """

    image: torch.Tensor
    masks: torch.Tensor
    truth: torch.Tensor
    key: str
    guide: torch.Tensor | None = None


def working_scale(height: int, width: int, long_side: int | None) -> float:
    """Scale so the long side is at most ``long_side`` (never upscale; None keeps the size)."""
    if not long_side:
        return 1.0
    return min(1.0, long_side / float(max(height, width)))


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """(C,H,W) resized by ``scale`` with area averaging (what a downscaled plate looks like)."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(x[None], size=size, mode="area")[0]


def scaled_sample(image, masks, truth, key: str, long_side: int | None, guide=None) -> Sample:
    """A Sample from numpy or tensor arrays (image HxWx3 or 3xHxW), resized to the working scale."""
    image = torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32)
    if image.shape[-1] == 3 and image.shape[0] != 3:
        image = image.permute(2, 0, 1)
    masks = torch.as_tensor(np.ascontiguousarray(masks), dtype=torch.float32)
    truth = torch.as_tensor(np.ascontiguousarray(truth), dtype=torch.float32)
    s = working_scale(image.shape[-2], image.shape[-1], long_side)
    if guide is not None:
        guide = resize(torch.as_tensor(np.ascontiguousarray(guide), dtype=torch.float32), s)
    return Sample(
        resize(image.clamp(0, 1), s), resize(masks, s).clamp(0, 1), resize(truth, s), key, guide
    )


def load_dev_set(
    root: str | Path, long_side: int | None = 512, limit: int | None = None
) -> list[Sample]:
    """Every sample (image or clip frame) of a dev-sets-layout folder, at the working scale."""
    dataset = ds.discover(root, limit=limit)
    out = []
    for sample in dataset.samples:
        loaded = ds.load(sample)
        out.append(scaled_sample(loaded.image, loaded.masks, loaded.truths, sample.key, long_side))
    return out


def _blob(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A soft person-like blob: an ellipse with a wavy border and a soft (hair-like) edge."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.25, 0.75) * w
    ry, rx = rng.uniform(0.2, 0.4) * h, rng.uniform(0.1, 0.25) * w
    angle = np.arctan2(yy - cy, xx - cx)
    wobble = 1.0 + 0.15 * np.sin(angle * rng.integers(3, 7) + rng.uniform(0, 6.28))
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) / wobble
    softness = rng.uniform(0.03, 0.15)
    return np.clip((1.0 - r) / softness + 0.5, 0.0, 1.0).astype(np.float32)


def _texture(h: int, w: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth random colour texture (upsampled noise) as a background or a foreground colour."""
    small = torch.from_numpy(rng.uniform(0, 1, (1, 3, cells, cells)).astype(np.float32))
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)[0].clamp(0, 1)


def rough_mask(alpha: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A rough mask as a segmenter or quick roto gives: thresholded, grown or shrunk, blocky."""
    hard = (alpha > rng.uniform(0.2, 0.8)).float()[None, None]
    grow = int(rng.integers(-3, 4))
    if grow > 0:
        hard = F.max_pool2d(hard, 2 * grow + 1, 1, grow)
    elif grow < 0:
        hard = -F.max_pool2d(-hard, -2 * grow + 1, 1, -grow)
    block = int(rng.integers(1, 5))
    if block > 1:
        h, w = hard.shape[-2:]
        hard = F.interpolate(F.avg_pool2d(hard, block, ceil_mode=True), (h, w), mode="nearest")
        hard = (hard > 0.5).float()
    return hard[0, 0]


def toy_composites(n: int, size: int = 64, instances: int = 2, seed: int = 0) -> list[Sample]:
    """``n`` small composites of soft blobs over textures, front blob occluding the back ones."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image = _texture(size, size, rng, 4)
        truths = []
        covered = torch.zeros(size, size)
        layers = [torch.from_numpy(_blob(size, size, rng)) for _ in range(instances)]
        for alpha in reversed(layers):  # last drawn is in front
            colour = _texture(size, size, rng, 3)
            image = image * (1 - alpha) + colour * alpha
        for j, alpha in enumerate(layers):
            in_front = layers[j + 1 :]
            visible = alpha.clone()
            for front in in_front:
                visible = visible * (1 - front)
            truths.append(visible)
            covered = covered + visible
        truth = torch.stack(truths)
        masks = torch.stack([rough_mask(t, rng) for t in truth])
        out.append(Sample(image, masks, truth, f"toy{i:03d}"))
    return out


class CropSampler:
    """Random crops of ``crop`` px from samples, padded to ``slots`` instances, augmented.

    Crops are centred near a random instance's soft edge (where matting is decided) or, with
    guide alphas, where the guide is wrong, with jitter;
    augmentations: horizontal flip, exposure/contrast/gamma jitter, rough-mask grow/shrink and
    shift (the faults a user's masks have). ``augment=False`` gives plain crops.
    """

    def __init__(self, samples: list[Sample], crop: int, seed: int = 0, augment: bool = True):
        if not samples:
            raise ValueError("no training samples")
        self.samples = samples
        self.crop = crop
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.slots = max(s.masks.shape[0] for s in samples)

    def _centre(self, sample: Sample) -> tuple[int, int]:
        n = sample.truth.shape[0]
        k = int(self.rng.integers(0, n))
        t = sample.truth[k]
        band = (t > 0.05) & (t < 0.95)
        if sample.guide is not None:
            band |= (sample.guide[k] - t).abs() > 0.1  # where the guide is wrong: the lesson
        edge = band.nonzero()
        if edge.numel() == 0:
            edge = (t > 0.5).nonzero()
        if edge.numel() == 0 or self.rng.uniform() < 0.2:
            h, w = t.shape
            return int(self.rng.integers(0, h)), int(self.rng.integers(0, w))
        y, x = edge[int(self.rng.integers(0, edge.shape[0]))].tolist()
        jitter = self.crop // 4
        return y + int(self.rng.integers(-jitter, jitter + 1)), x + int(
            self.rng.integers(-jitter, jitter + 1)
        )

    def _cut(self, x: torch.Tensor, y0: int, x0: int) -> torch.Tensor:
        """Crop with zero padding where the crop leaves the frame (small frames, borders)."""
        h, w = x.shape[-2:]
        c = self.crop
        out = x.new_zeros(x.shape[0], c, c)
        ys, xs = max(0, y0), max(0, x0)
        ye, xe = min(h, y0 + c), min(w, x0 + c)
        if ye > ys and xe > xs:
            out[:, ys - y0 : ye - y0, xs - x0 : xe - x0] = x[:, ys:ye, xs:xe]
        return out

    def _perturb_mask(self, mask: torch.Tensor) -> torch.Tensor:
        m = mask[None]
        grow = int(self.rng.integers(-2, 3))
        if grow > 0:
            m = F.max_pool2d(m, 2 * grow + 1, 1, grow)
        elif grow < 0:
            m = -F.max_pool2d(-m, -2 * grow + 1, 1, -grow)
        dy, dx = (int(v) for v in self.rng.integers(-2, 3, size=2))
        return torch.roll(m, (dy, dx), (-2, -1))[0]

    def one(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, masks, truth, guide) of one crop; guide is the masks when samples have none."""
        sample = self.samples[int(self.rng.integers(0, len(self.samples)))]
        cy, cx = self._centre(sample)
        y0, x0 = cy - self.crop // 2, cx - self.crop // 2
        image = self._cut(sample.image, y0, x0)
        masks = self._cut(sample.masks, y0, x0)
        truth = self._cut(sample.truth, y0, x0)
        guide = None if sample.guide is None else self._cut(sample.guide, y0, x0)
        if self.augment:
            if self.rng.uniform() < 0.5:
                image, masks, truth = image.flip(-1), masks.flip(-1), truth.flip(-1)
                guide = None if guide is None else guide.flip(-1)
            gain = math.exp(self.rng.uniform(-0.3, 0.3))
            gamma = math.exp(self.rng.uniform(-0.2, 0.2))
            image = (image * gain).clamp(0, 1) ** gamma
            masks = torch.stack([self._perturb_mask(m) for m in masks])
        if guide is None:
            guide = masks
        empty = masks.flatten(1).amax(-1) <= 0
        truth[empty] = 0.0  # a person cut out of the crop has no mask: the slot is empty
        pad = self.slots - masks.shape[0]
        if pad:
            masks, truth, guide = (
                torch.cat([x, x.new_zeros(pad, *x.shape[1:])]) for x in (masks, truth, guide)
            )
        return image, masks, truth, guide

    def batch(self, size: int) -> tuple[torch.Tensor, ...]:
        items = [self.one() for _ in range(size)]
        return tuple(torch.stack(parts) for parts in zip(*items, strict=True))  # type: ignore[return-value]
