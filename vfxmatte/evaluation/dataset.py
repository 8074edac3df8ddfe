"""Evaluation datasets in the HIM2K-like layout of DESIGN.md, found and validated up front.

Three shapes are recognised from the folder given:

- an image set: ``images/<name>.<ext>``, ``alphas/<name>/<NN>.png`` (truth per instance),
  ``masks/<name>/<NN>.png`` (rough masks), optional ``trimaps/<name>.png`` or
  ``trimaps/<name>/<NN>.png``;
- one clip: ``frames/<FFFF>.<ext>``, ``alphas/<FFFF>/<NN>.png``, ``masks/<FFFF>/<NN>.png``;
- a folder of clips: sub-folders that are clips (others are ignored).

Every sample is checked before anything runs (a missing alpha or mask, or an image and its alpha
of different sizes, is a one-line :class:`~vfxmatte.errors.InvalidInputError` naming the file), so
a long evaluation never dies half way on a malformed dataset. Folders and files the layout does
not name are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError
from vfxmatte.io.images import read_image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".webp"}
GUIDANCES = ("masks", "trimaps")


@dataclass(frozen=True)
class Sample:
    """One image (or clip frame) with its instances' files.

    key: unique label, ``<name>`` for images, ``<clip>/<FFFF>`` for clip frames.
    out_dir: where predictions go relative to an output ``alphas`` root, mirroring the
        dataset's ``alphas/`` (``<name>`` or ``<FFFF>``; a clip folder adds ``<clip>/`` above).
    """

    key: str
    image: Path
    alphas: dict[str, Path]
    masks: dict[str, Path]
    trimaps: dict[str, Path] | None
    out_dir: Path
    clip: str | None = None
    index: int = 0  # frame position within its clip


@dataclass
class Dataset:
    root: Path
    kind: str  # "images" | "clip" | "clips"
    samples: list[Sample]
    clips: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def by_clip(self) -> dict[str | None, list[Sample]]:
        groups: dict[str | None, list[Sample]] = {}
        for s in self.samples:
            groups.setdefault(s.clip, []).append(s)
        return groups


@dataclass
class LoadedSample:
    """Pixels of one sample: sRGB image in [0, 1] and (N, H, W) float32 alphas, masks, trimaps."""

    sample: Sample
    image: np.ndarray
    names: list[str]
    truths: np.ndarray
    masks: np.ndarray
    trimaps: np.ndarray | None


def _images_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    }


def _instances(folder: Path) -> dict[str, Path]:
    """``<NN>.png`` files of one sample's alphas/ or masks/ folder, by instance id."""
    return {p.stem: p for p in sorted(folder.glob("*.png")) if not p.name.startswith(".")}


def is_clip(folder: Path) -> bool:
    return (folder / "frames").is_dir() and (folder / "alphas").is_dir()


def is_image_set(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "alphas").is_dir()


def discover(root: str | Path, guidance: str = "masks", limit: int | None = None) -> Dataset:
    """Find the samples under ``root`` and check every file they need exists."""
    root = Path(root)
    if guidance not in GUIDANCES:
        raise BadArgumentError(f"--guidance {guidance}: choose masks or trimaps")
    if not root.is_dir():
        raise MissingInputError(f"dataset folder not found: {root}")
    if is_image_set(root):
        samples, ignored = _image_samples(root, guidance)
        dataset = Dataset(root, "images", samples[:limit] if limit else samples, ignored=ignored)
    elif is_clip(root):
        dataset = Dataset(root, "clip", _clip_samples(root, None, guidance, limit), [root.name])
    else:
        clips = sorted(p for p in root.iterdir() if p.is_dir() and is_clip(p))
        if not clips:
            raise MissingInputError(
                f"{root} is not an evaluation dataset: expected images/ + alphas/ (image set), "
                "frames/ + alphas/ (a clip) or sub-folders that are clips (see DESIGN.md)"
            )
        samples = [s for c in clips for s in _clip_samples(c, c.name, guidance, limit)]
        ignored = sorted(p.name for p in root.iterdir() if p.is_dir() and p not in clips)
        dataset = Dataset(root, "clips", samples, [c.name for c in clips], ignored)
    if not dataset.samples:
        raise MissingInputError(f"{root}: no samples with ground-truth alphas found")
    check_sizes(dataset)
    return dataset


def _guidance_files(
    root: Path, name: str, alpha_ids: list[str], guidance: str, where: str
) -> tuple[dict[str, Path], dict[str, Path] | None]:
    masks = _instances(root / "masks" / name)
    missing = [i for i in alpha_ids if i not in masks]
    if guidance == "masks" and missing:
        raise InvalidInputError(
            f"{where}: no rough mask {root / 'masks' / name / (missing[0] + '.png')} for "
            f"instance {missing[0]}; add it or evaluate with --guidance trimaps"
        )
    trimaps = None
    if guidance == "trimaps":
        per_instance = _instances(root / "trimaps" / name)
        single = _images_in(root / "trimaps").get(name)
        if all(i in per_instance for i in alpha_ids):
            trimaps = {i: per_instance[i] for i in alpha_ids}
        elif single is not None and len(alpha_ids) == 1:
            trimaps = {alpha_ids[0]: single}
        else:
            raise InvalidInputError(
                f"{where}: --guidance trimaps needs trimaps/{name}.png (one instance) or "
                f"trimaps/{name}/<NN>.png per instance under {root}"
            )
    return {i: masks[i] for i in alpha_ids if i in masks}, trimaps


def _image_samples(root: Path, guidance: str) -> tuple[list[Sample], list[str]]:
    images = _images_in(root / "images")
    alpha_dirs = {p.name: p for p in (root / "alphas").iterdir() if p.is_dir()}
    for name in alpha_dirs:
        if name not in images:
            raise InvalidInputError(
                f"{root / 'alphas' / name}: ground truth without an image images/{name}.<ext>"
            )
    samples = []
    for name, image in images.items():
        if name not in alpha_dirs:
            raise InvalidInputError(
                f"{image}: no ground-truth alpha folder {root / 'alphas' / name}/ (<NN>.png per "
                "instance); add it or remove the image"
            )
        alphas = _instances(alpha_dirs[name])
        if not alphas:
            raise InvalidInputError(f"{alpha_dirs[name]}: no <NN>.png alpha inside")
        masks, trimaps = _guidance_files(root, name, sorted(alphas), guidance, str(image))
        for inst in _instances(root / "masks" / name):
            if inst not in alphas:
                raise InvalidInputError(
                    f"{root / 'masks' / name / (inst + '.png')}: mask of instance {inst} has no "
                    f"ground-truth alpha {alpha_dirs[name] / (inst + '.png')}"
                )
        samples.append(Sample(name, image, alphas, masks, trimaps, Path(name)))
    known = {"images", "alphas", "masks", "trimaps"}
    ignored = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in known)
    return samples, ignored


def _clip_samples(root: Path, clip: str | None, guidance: str, limit: int | None) -> list[Sample]:
    frames = _images_in(root / "frames")
    if not frames:
        raise InvalidInputError(f"{root / 'frames'}: no frames (<FFFF>.<ext>) in this clip")
    samples = []
    for index, (name, image) in enumerate(sorted(frames.items())):
        if limit and index >= limit:
            break
        alphas = _instances(root / "alphas" / name)
        where = f"{image}"
        if not alphas:
            raise InvalidInputError(
                f"{where}: no ground-truth alphas {root / 'alphas' / name}/<NN>.png for this frame"
            )
        masks, trimaps = _guidance_files(root, name, sorted(alphas), guidance, where)
        out_dir = Path(clip, name) if clip else Path(name)
        key = f"{clip or root.name}/{name}"
        samples.append(
            Sample(key, image, alphas, masks, trimaps, out_dir, clip or root.name, index)
        )
    return samples


def _size(path: Path) -> tuple[int, int]:
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise InvalidInputError(f"cannot read {path}: {oiio.geterror() or 'unknown format'}")
    try:
        spec = inp.spec()
        return spec.width, spec.height
    finally:
        inp.close()


def check_sizes(dataset: Dataset) -> None:
    """Every alpha, mask and trimap must have its image's size (headers only: fast)."""
    for s in dataset.samples:
        w, h = _size(s.image)
        others = [*s.alphas.values(), *s.masks.values(), *(s.trimaps or {}).values()]
        for path in others:
            size = _size(path)
            if size != (w, h):
                raise InvalidInputError(
                    f"{path} is {size[0]}x{size[1]} but its image {s.image} is {w}x{h}; "
                    "ground truth, masks and trimaps must match the image size"
                )


def _grey(path: Path, what: str) -> np.ndarray:
    frame = read_image(path, what)
    px = frame.pixels
    return np.clip(px[..., 0] if px.ndim == 3 else px, 0.0, 1.0).astype(np.float32)


def load(sample: Sample, guidance: str = "masks") -> LoadedSample:
    """Read one sample: the sRGB image as float [0, 1] (the engines' input encoding)."""
    frame = read_image(sample.image, "dataset image")
    image = np.clip(frame.rgb(), 0.0, 1.0).astype(np.float32)
    names = sorted(sample.alphas)
    truths = np.stack([_grey(sample.alphas[n], "ground-truth alpha") for n in names])
    trimaps = None
    if guidance == "trimaps" and sample.trimaps is not None:
        trimaps = np.stack([_quantise_trimap(_grey(sample.trimaps[n], "trimap")) for n in names])
        masks = (trimaps >= 0.5).astype(np.float32)
    else:
        masks = np.stack([_grey(sample.masks[n], "rough mask") for n in names])
    return LoadedSample(sample, image, names, truths, masks, trimaps)


def _quantise_trimap(t: np.ndarray) -> np.ndarray:
    """0 background, 0.5 unknown, 1 foreground (benchmark trimaps use 0 / 128 / 255)."""
    return np.where(t < 0.1, 0.0, np.where(t > 0.9, 1.0, 0.5)).astype(np.float32)
