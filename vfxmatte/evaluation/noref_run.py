"""The no-reference check over files: `vfxmatte run` outputs (EXR) beside their plate, or a
clip in the evaluation layout without alphas (frames/, masks/<FFFF>/<NN>.png), which is first
matted by the real pipeline (:class:`vfxmatte.pipeline.Job`, as `vfxmatte run` does).

Reads each result frame's per-instance ``<name>.A`` layers and the plate frame, brings the plate
to display sRGB through OCIO (the colours the checks compare are display colours, as the dev-sets
and the engines use), and applies :func:`vfxmatte.evaluation.noref.noref_frame`. Optional rough
masks (``NAME=pattern``) anchor each person's solid core where they exist; frames without a
mask fall back to the largest solid region. Writes noref.json and noref.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError
from vfxmatte.evaluation import SHEET_ROWS
from vfxmatte.evaluation.noref import noref_frame
from vfxmatte.evaluation.sheet import TILE_WIDTH, evenly_spread, layer_row
from vfxmatte.io.atomic import ensure_writable_dir
from vfxmatte.io.colour import ColourConverter, colorspace_of, load_config, resolve_colorspace
from vfxmatte.io.images import read_image
from vfxmatte.plates import ImageSequencePlate
from vfxmatte.preview import contact_sheet, save_png
from vfxmatte.sequence import SequencePath, parse_frames

MEASURES = ("detached", "background_like")
Log = Callable[[str], None]


def instance_layers(channels: list[str]) -> list[str]:
    """Instance names of a result EXR: every ``<name>.A`` channel (the union ``A`` excluded)."""
    return [c[:-2] for c in channels if c.endswith(".A") and c != "A"]


def _mask(seq: SequencePath | None, frame: int, shape: tuple[int, int]) -> np.ndarray | None:
    if seq is None or not seq.path(frame).is_file():
        return None
    px = read_image(seq.path(frame), f"mask frame {frame}").pixels
    m = px[..., 0] if px.ndim == 3 else px
    if m.shape != shape:
        raise InvalidInputError(
            f"{seq.path(frame)} is {m.shape[1]}x{m.shape[0]}, the result is "
            f"{shape[1]}x{shape[0]}; masks must match the plate"
        )
    return m


def check_results(
    results: str,
    plate: str,
    out: str | Path,
    frames: str | None = None,
    masks: dict[str, str] | None = None,
    colorspace: str | None = None,
    log: Log = lambda _: None,
    sheet_rows: int = SHEET_ROWS,
) -> dict:
    """Per frame and instance: detached and background-like alpha mass (sum / 1000). Also
    layers.png: ``sheet_rows`` evenly spread frames, each person over green with a 1:1 crop at
    the head, where the figures' ghosts and holes can be seen."""
    seq = SequencePath(str(results))
    wanted = parse_frames(frames) if frames else seq.frames_on_disk()
    if not wanted:
        raise MissingInputError(f"no result frames found for {results} (an EXR sequence of run)")
    source = ImageSequencePlate(plate)
    source.check_frames(wanted)
    mask_seqs = {name: SequencePath(p) for name, p in (masks or {}).items()}
    config = load_config()
    target = resolve_colorspace(config, "srgb")
    named = resolve_colorspace(config, colorspace) if colorspace else None
    out = Path(out)
    ensure_writable_dir(out)
    rows: list[dict] = []
    sheet_frames = set(evenly_spread(wanted, sheet_rows))
    sheet: list = []
    for frame in wanted:
        if not seq.path(frame).is_file():
            raise MissingInputError(f"result frame {frame} missing: {seq.path(frame)}")
        result = read_image(seq.path(frame), f"result frame {frame}")
        names = instance_layers(result.channels)
        if not names:
            raise InvalidInputError(f"{seq.path(frame)}: no <name>.A layers (not a run output?)")
        image = source.read(frame)
        conv = ColourConverter(config, colorspace_of(config, image, named), target)
        rgb = np.clip(conv.apply(image.rgb()), 0, 1)
        alphas = np.stack([np.clip(result.channel(f"{n}.A"), 0, 1) for n in names])
        if alphas.shape[1:] != rgb.shape[:2]:
            raise InvalidInputError(
                f"{seq.path(frame)} is {alphas.shape[2]}x{alphas.shape[1]} but plate frame "
                f"{frame} is {rgb.shape[1]}x{rgb.shape[0]}; rerun with --full-frame"
            )
        found = [_mask(mask_seqs.get(n), frame, rgb.shape[:2]) for n in names]
        scores = noref_frame(rgb, alphas, found)
        for name, s in zip(names, scores, strict=True):
            rows.append({"frame": frame, "instance": name, **s})
        if frame in sheet_frames:
            layers = {"": dict(zip(names, alphas, strict=True))}
            sheet.append(layer_row(f"frame {frame}", rgb, layers))
        log(
            f"noref: frame {frame} "
            + " ".join(
                f"{n}:detached={s['detached']:.3f},bg_like={s['background_like']:.3f}"
                for n, s in zip(names, scores, strict=True)
            )
        )
    report = {
        "results": str(results),
        "plate": plate,
        "frames": wanted,
        "rows": rows,
        "conventions": CONVENTIONS,
    }
    if sheet:
        report["sheet"] = str(save_png(out / "layers.png", contact_sheet(sheet, TILE_WIDTH)))
    (out / "noref.json").write_text(json.dumps(report, indent=2))
    (out / "noref.md").write_text(render_noref(report))
    return report


CONVENTIONS = {
    "detached": "alpha mass (sum / 1000) in regions of alpha > 0.05 not touching the solid core "
    "(alpha >= 0.95 overlapping the rough mask, else the largest such region)",
    "background_like": "alpha mass (sum / 1000) with alpha > 0.05 on pixels whose display-sRGB "
    "colour is within max(0.05, local spread) of the local background mean (Gaussian, sigma 3% "
    "of the long side, samples 1% clear of every instance, within 3 sigma)",
    "mass": "the instance's total alpha mass (sum / 1000), for scale",
}


def render_noref(report: dict) -> str:
    rows = report["rows"]
    lines = ["| frame | instance | detached | background-like | mass |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['frame']} | {r['instance']} | {r['detached']:.3f} | {r['background_like']:.3f} "
        f"| {r['mass']:.1f} |"
        for r in rows
    ]
    lines += [
        "",
        "| instance | detached mean / max | background-like mean / max |",
        "|---|---|---|",
    ]
    for name in dict.fromkeys(r["instance"] for r in rows):
        mine = [r for r in rows if r["instance"] == name]
        cells = [
            f"{np.mean([r[k] for r in mine]):.3f} / {max(r[k] for r in mine):.3f}" for k in MEASURES
        ]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def is_plain_clip(folder: Path) -> bool:
    """A clip folder with frames/ and masks/ (alphas/ optional and unused)."""
    return folder.is_dir() and (folder / "frames").is_dir() and (folder / "masks").is_dir()


def matte_clip(
    clip: Path, out: Path, job_fields: dict, log: Log = lambda _: None
) -> tuple[str, str, dict[str, str]]:
    """Run the pipeline on a layout clip; returns (results pattern, plate pattern, masks).

    The pipeline reads masks as ``NAME=pattern`` sequences, so each instance's per-frame masks
    are linked as ``out/masks/<NN>.<FFFF>.png`` (links, not copies)."""
    from vfxmatte.jobspec import JobSpec
    from vfxmatte.pipeline import Job

    frames = sorted(p for p in (clip / "frames").iterdir() if p.stem.isdigit())
    exts = {p.suffix for p in frames}
    if not frames or len(exts) != 1 or len({len(p.stem) for p in frames}) != 1:
        raise InvalidInputError(
            f"{clip / 'frames'}: expected <FFFF>.<ext> frames of one extension and padding"
        )
    pad, ext = len(frames[0].stem), exts.pop()
    links = out / "masks"
    links.mkdir(parents=True, exist_ok=True)
    ids: set[str] = set()
    for frame in frames:
        for mask in sorted((clip / "masks" / frame.stem).glob("*.png")):
            ids.add(mask.stem)
            link = links / f"{mask.stem}.{frame.stem}.png"
            if not link.exists():
                link.symlink_to(mask.resolve())
    if not ids:
        raise MissingInputError(f"{clip / 'masks'}: no <FFFF>/<NN>.png rough masks")
    hashes = "#" * pad
    masks = {f"instance{i}": str(links / f"{i}.{hashes}.png") for i in sorted(ids)}
    plate = str(clip / "frames" / f"{hashes}{ext}")
    results = str(out / "run" / f"noref.{hashes}.exr")
    numbers = [int(p.stem) for p in frames]
    try:
        spec = JobSpec(plate=plate, out=results, masks=masks,
                       frames=f"{numbers[0]}-{numbers[-1]}", **job_fields)  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadArgumentError(f"--noref: {where}: {first.get('msg', 'invalid value')}") from exc
    log(f"noref: matting {len(frames)} frames of {clip} with engine {spec.engine}")
    Job(spec).run()
    return results, plate, masks
