"""Small synthetic result folders for the review tests (made once per test session).

`pipeline_result` runs the real pipeline on a tiny demo shot (the panel's normal input);
`moving_disc_result` writes hand-made EXRs whose motion and flicker are known exactly, for the
stability analysis.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vfxmatte.demo import DemoShot, make_demo_shot
from vfxmatte.io.images import Window, write_exr
from vfxmatte.jobspec import JobSpec
from vfxmatte.pipeline import Job

WIDTH, HEIGHT, FRAMES = 160, 90, 4


@dataclass
class PipelineResult:
    shot: DemoShot
    out: Path  # the result folder (matte.####.exr)
    spec: JobSpec


def make_pipeline_result(root: Path) -> PipelineResult:
    shot = make_demo_shot(root / "shot", frames=FRAMES, width=WIDTH, height=HEIGHT)
    out = root / "results"
    spec = JobSpec(
        plate=shot.plate, out=str(out / "matte.####.exr"), masks=shot.masks, device="cpu"
    )
    result = Job(spec).run()
    assert result.complete
    return PipelineResult(shot, out, spec)


_CACHED: PipelineResult | None = None


def cached_pipeline_result(tmp_path_factory) -> PipelineResult:  # noqa: ANN001
    """One pipeline run per test session, shared by the review test modules (never modified:
    tests that damage or review results work on a :func:`copy_result`)."""
    global _CACHED
    if _CACHED is None or not _CACHED.out.is_dir():
        _CACHED = make_pipeline_result(tmp_path_factory.mktemp("review_results"))
    return _CACHED


def copy_result(src: Path, dst: Path) -> Path:
    """A private copy of a result folder (tests that damage or review it must not share one)."""
    shutil.copytree(src, dst)
    (dst / "review.json").unlink(missing_ok=True)
    return dst


def _texture(h: int, w: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2.0)
    return (noise - noise.min()) / (noise.max() - noise.min())


def make_moving_disc_result(
    root: Path,
    frames: int = 6,
    shift: int = 4,
    flicker_frame: int | None = 1004,
    empty_frame: int | None = None,
    size: tuple[int, int] = (128, 96),
) -> Path:
    """A textured plate and one person's soft disc moving right by ``shift`` px per frame.

    On ``flicker_frame`` the disc gets a hole (flicker); on ``empty_frame`` the matte is empty.
    Returns the result folder; the plate is written beside it and named in vfxmatte:plate.
    """
    w, h = size
    big = _texture(h, w + shift * frames + 8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    window = Window(0, 0, w, h)
    out = root / "disc"
    for i in range(frames):
        frame = 1001 + i
        dx = shift * i
        plate = big[:, dx : dx + w]  # camera pans: the texture moves left
        # the person moves with the texture (left by `shift`): zero change once flow-aligned
        cx, cy = w / 2 + 12 - dx, h / 2
        alpha = np.clip((26 - np.hypot(xx - cx, yy - cy)) / 3.0, 0, 1).astype(np.float32)
        if frame == flicker_frame:  # a hole punched in one frame: flicker the graph must show
            alpha = alpha * (np.hypot(xx - cx, yy - cy + 8) > 9)
        if frame == empty_frame:
            alpha = np.zeros_like(alpha)
        write_exr(
            root / "plate" / f"plate.{frame:04d}.exr",
            {"R": plate, "G": plate, "B": plate},
            window,
            window,
            extra_attributes={"oiio:ColorSpace": "srgb_rec709_scene"},
        )
        write_exr(
            out / f"matte.{frame:04d}.exr",
            {"A": alpha, "person01.A": alpha},
            window,
            window,
            extra_attributes={
                "vfxmatte:engine": "test",
                "vfxmatte:instances": "person01",
                "vfxmatte:plate": str(root / "plate" / "plate.####.exr"),
                "vfxmatte:mask_states": "person01=ok",
            },
        )
    return out
