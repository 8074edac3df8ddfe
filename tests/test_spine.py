"""The spine (issue 16): one job spec, typed engine options, one per-frame path, provenance.

Every entry point must resolve the same JobSpec; engine options are refused before a frame is
read; eval and run produce the same alphas; an output EXR replays its own job byte for byte.
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
import torch
import typer
from conftest import run_cli, run_cli_in_process

from cli.run_cmd import spec_from_cli
from vfxmatte.engines import (
    Engine,
    EngineInput,
    EngineOptions,
    EngineOutput,
    create_engine,
    register_engine,
)
from vfxmatte.errors import BadArgumentError, ExitCode
from vfxmatte.farm.command import run_arguments
from vfxmatte.io.images import Window, write_exr
from vfxmatte.jobspec import SPEC_ATTRIBUTE, JobSpec, field_default
from vfxmatte.review.model import ResultFolder
from vfxmatte.review.rerun import base_spec
from vfxmatte.server.models import JobRequest
from vfxmatte_client import config as client_config
from vfxmatte_client.client import ServiceClient

PLATE = "/shots/sh010/plate.####.exr"
OUT = "/shots/sh010/out/matte.####.exr"
MASKS = {"person01": "/shots/sh010/masks/p1.####.png"}


def _cli_spec(*args: str) -> JobSpec:
    """The spec `vfxmatte run ARGS` would run, parsed by the real command (nothing executed)."""
    from cli.main import app

    command = typer.main.get_command(app).get_command(None, "run")  # type: ignore[attr-defined]
    ctx = command.make_context("run", list(args))
    values = {k: ctx.params[k] for k in JobSpec.model_fields}
    return spec_from_cli(ctx, values, ctx.params["job"])


def _mask_args() -> list[str]:
    return [a for n, p in MASKS.items() for a in ("--mask", f"{n}={p}")]


def test_every_entry_point_resolves_the_same_spec(tmp_path):
    cli = _cli_spec("--plate", PLATE, "--out", OUT, *_mask_args())
    assert cli == JobSpec(plate=PLATE, out=OUT, masks=MASKS)  # defaults are JobSpec's
    assert cli.temporal_strength == 0.9 == field_default("temporal_strength")

    # the service: a request with the same inputs becomes the same spec
    request = JobRequest(plate=PLATE, out=OUT, masks=MASKS)
    assert JobSpec(**request.model_dump(exclude={"upload"})) == cli

    # the farm: a task runs `vfxmatte run <run_arguments>`; parse that command line back
    farm = _cli_spec(*run_arguments(cli))
    assert farm == cli.model_copy(update={"skip_existing": True})

    # the review re-run: results without a recorded spec are rebuilt at JobSpec's defaults
    results = tmp_path / "res"
    results.mkdir()
    attrs = {
        "vfxmatte:plate": PLATE,
        "vfxmatte:masks": json.dumps(MASKS),
        "vfxmatte:instances": "person01",
        "vfxmatte:engine": "guided",
    }
    zeros = np.zeros((4, 4), np.float32)
    window = Window(0, 0, 4, 4)
    write_exr(results / "matte.1001.exr", {"A": zeros, "person01.A": zeros}, window, window,
              extra_attributes=attrs)  # fmt: skip
    rerun = base_spec(ResultFolder(results / "matte.1001.exr"))
    assert rerun == cli.model_copy(update={"out": str(results / "matte.####.exr")})

    # the add-ons' client: its defaults are the spec's (full_frame is the hosts' own choice)
    params = inspect.signature(ServiceClient.matte).parameters
    assert client_config.JOB_DEFAULTS == {k: field_default(k) for k in client_config.JOB_DEFAULTS}
    for key in client_config.JOB_DEFAULTS:
        assert params[key].default == field_default(key)
    host = JobRequest(
        plate=PLATE, out=OUT, masks=MASKS, engine=params["engine"].default,
        device=params["device"].default, full_frame=params["full_frame"].default,
    )  # fmt: skip
    assert JobSpec(**host.model_dump(exclude={"upload"})) == cli.model_copy(
        update={"full_frame": client_config.HOST_FULL_FRAME}
    )


def test_job_flags_beside_job_override_its_fields(tmp_path):
    spec = JobSpec(plate=PLATE, out=OUT, masks=MASKS, engine_options={"search_k": 0.5})
    path = tmp_path / "job.json"
    path.write_text(spec.model_dump_json())
    again = _cli_spec("--job", str(path), "--temporal-strength", "0.3",
                      "--engine-option", "fine_iters=30")  # fmt: skip
    assert again == spec.model_copy(
        update={"temporal_strength": 0.3, "engine_options": {"search_k": 0.5, "fine_iters": 30}}
    )
    with pytest.raises(BadArgumentError, match="--plate is required"):
        _cli_spec("--out", OUT, *_mask_args())


@pytest.mark.parametrize(
    ("option", "needles"),
    [
        ("frobnicate=1", ["frobnicate", "valid keys:", "search_k"]),
        ("tile=abc", ["tile=abc", "valid keys:"]),
        ("radius=-3", ["radius=-3", "valid keys:"]),
        ("serch_k=0.5", ["did you mean search_k?"]),
    ],
)
def test_bad_engine_options_exit_2_before_any_frame(tmp_path, option, needles, one_torch_thread):
    # the plate does not exist: reaching any frame would exit 3 (missing input) instead; refused
    # before any work, so in this process (no ~4 s process start per case)
    proc = run_cli_in_process("run", "--plate", str(tmp_path / "none.####.exr"), "--out",
                   str(tmp_path / "o.####.exr"), "--mask", f"p={tmp_path / 'm.####.png'}",
                   "--frames", "1", "--engine-option", option)  # fmt: skip
    assert proc.returncode == int(ExitCode.BAD_ARGUMENTS), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_service_refuses_bad_engine_options_at_submit():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="valid keys"):
        JobRequest(plate=PLATE, masks=MASKS, engine_options={"frobnicate": 1})


# -- a tiny engine: adding an engine is one class and one registry call ----------------------
class TinyOptions(EngineOptions):
    gain: float = 1.0


class TinyEngine(Engine):
    """Alpha = the rough mask times ``gain``; its cores are the masks themselves."""

    name = "tiny"
    Options = TinyOptions
    half_precision = True

    def matte(self, inp: EngineInput) -> EngineOutput:
        masks = inp.masks.to(self.device)
        return EngineOutput(alphas=masks * self.opts.gain, cores=(masks > 0.5).to(masks.dtype))


def test_a_registered_engine_runs_and_its_options_are_typed(device, dtype):
    register_engine("tiny", TinyEngine)
    if dtype == torch.float16 and not TinyEngine.half_precision:
        pytest.skip("tiny offers no half precision")
    engine = create_engine("tiny", device, {"gain": 0.5})
    masks = torch.ones(2, 4, 5, device=device, dtype=dtype)
    out = engine.matte(EngineInput(image=torch.zeros(3, 4, 5, device=device, dtype=dtype),
                                   masks=masks, names=["a", "b"]))  # fmt: skip
    assert out.alphas.dtype == dtype and out.alphas.device.type == torch.device(device).type
    assert float(out.alphas.max()) == 0.5
    assert engine.resolved_options() == {"gain": 0.5}
    with pytest.raises(BadArgumentError, match="valid keys: gain"):
        create_engine("tiny", device, {"gian": 2})


# -- run, eval, replay ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def still(tmp_path_factory):
    """One 8-bit frame with two people, as a plate sequence and as an eval image set."""
    root = tmp_path_factory.mktemp("still")
    h, w = 72, 96
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([40 + xx, 60 + yy, 90 + 0 * xx], -1).astype(np.uint8)
    people = [((yy - 36) ** 2 + (xx - 30) ** 2) < 15**2, ((yy - 40) ** 2 + (xx - 66) ** 2) < 13**2]
    for i, p in enumerate(people):
        img[p] = (200 - 40 * i, 150, 110 + 30 * i)
    for sub in ("plate", "masks", "images", "alphas/shot", "evalmasks/shot"):
        (root / sub).mkdir(parents=True)
    cv2.imwrite(str(root / "plate" / "plate.0001.png"), img[..., ::-1])
    cv2.imwrite(str(root / "images" / "shot.png"), img[..., ::-1])
    masks = {}
    for i, p in enumerate(people):
        rough = cv2.dilate(p.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
        cv2.imwrite(str(root / "masks" / f"p{i}.0001.png"), rough)
        cv2.imwrite(str(root / "evalmasks" / "shot" / f"{i:02d}.png"), rough)
        cv2.imwrite(str(root / "alphas" / "shot" / f"{i:02d}.png"), p.astype(np.uint8) * 255)
        masks[f"p{i}"] = str(root / "masks" / f"p{i}.####.png")
    shutil.move(root / "evalmasks", root / "masks_eval")
    return root, masks


def test_eval_and_run_give_identical_alphas(still, tmp_path, one_torch_thread):
    from vfxmatte.evaluation.dataset import discover, load
    from vfxmatte.evaluation.methods import EngineMethod
    from vfxmatte.pipeline import Job

    root, masks = still
    evalset = tmp_path / "set"
    shutil.copytree(root / "images", evalset / "images")
    shutil.copytree(root / "alphas", evalset / "alphas")
    shutil.copytree(root / "masks_eval", evalset / "masks")
    spec = JobSpec(plate=str(root / "plate" / "plate.####.png"), masks=masks, frames="1",
                   out=str(tmp_path / "o" / "m.####.exr"), device="cpu")  # fmt: skip
    job = Job(spec)
    (ran,) = [*job.push_frame(1, new_shot=True), *job.flush_frames()]  # a still: window of one
    method = EngineMethod("guided", "cpu", {}, spec.temporal_strength)
    (sample,) = discover(evalset).samples
    evaluated = method.predict(load(sample), new_shot=True)
    assert ran.alphas.shape == evaluated.shape == (2, 72, 96)
    assert ran.alphas.tobytes() == evaluated.tobytes()


def _header(path: Path) -> dict:
    inp = oiio.ImageInput.open(str(path))
    try:
        return json.loads(inp.spec().get_string_attribute(SPEC_ATTRIBUTE))
    finally:
        inp.close()


def _content(path: Path) -> tuple[bytes, dict]:
    """Pixels (as stored: half) and every attribute but the write time OpenEXR stamps and the
    reader's own (oiio:SourcePath names the file read)."""
    buf = oiio.ImageBuf(str(path))
    pixels = buf.get_pixels(oiio.HALF).tobytes()
    attrs = {
        a.name: str(a.value)
        for a in buf.spec().extra_attribs
        if a.name != "DateTime" and not a.name.startswith("oiio:")
    }
    return pixels, {**attrs, "channels": ",".join(buf.spec().channelnames)}


def test_exr_holds_its_spec_and_replays_byte_identically(still, tmp_path):
    root, masks = still
    out = tmp_path / "o" / "m.####.exr"
    proc = run_cli("run", "--plate", str(root / "plate" / "plate.####.png"), "--out", str(out),
                   *[a for n, p in masks.items() for a in ("--mask", f"{n}={p}")],
                   "--device", "cpu", "--threads", "1",
                   "--engine-option", "fine_iters=10")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    exr = tmp_path / "o" / "m.0001.exr"
    recorded = _header(exr)
    assert recorded["engine_options"]["fine_iters"] == 10
    assert recorded["engine_options"]["search_k"] == 0.42  # defaults filled in
    assert recorded["temporal_strength"] == 0.9 and recorded["colorspace"]  # the one used
    saved = tmp_path / "first.exr"
    shutil.move(exr, saved)
    proc = run_cli("run", "--job", str(saved), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert _content(exr) == _content(saved)  # same pixels, same spec and provenance
