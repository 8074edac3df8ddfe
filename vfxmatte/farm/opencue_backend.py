"""Build an OpenCue job for a shot list with opencue-pyoutline, and submit it with opencue-pycue.

One layer per shot (``Shell`` layer): its frame range, its chunk size, and the command
``vfxmatte run ... --frames #FRAME_START#-#FRAME_END# --skip-existing`` that Cuebot fills per
chunk. A shot whose frames are not one evenly stepped range (``1-10,20-30``) gets one layer per
stepped run, since a chunk's ``start-end`` must not span a gap. GPU shots ask for GPUs and the
GPU tag/service, so Cuebot books them on GPU hosts only.

Serialising needs no Cuebot; submitting does (``--cuebot HOST`` or the site's opencue config).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

from vfxmatte.errors import EngineError
from vfxmatte.farm.chunks import uniform_runs
from vfxmatte.farm.command import run_arguments, shell_command
from vfxmatte.farm.shotlist import Shot

FRAMES_TOKEN = "#FRAME_START#-#FRAME_END#"


@dataclass(frozen=True)
class CueSettings:
    job_name: str = "vfxmatte"
    show: str = "testing"
    shot: str = "vfxmatte"
    user: str | None = None
    chunk_size: int = 10
    preroll: int = 0
    retries: int = 2
    gpu: bool | None = None
    service: str | None = None  # default: "vfxmatte_gpu" for GPU shots, "shell" otherwise
    tags: str | None = None  # default: "gpu" for GPU shots, "general" otherwise
    gpu_memory: str = "8g"
    cores: float | None = None
    memory: str | None = "8g"
    program: tuple[str, ...] = ("vfxmatte",)
    env: dict[str, str] = field(default_factory=dict)
    cuebot: str | None = None


@dataclass(frozen=True)
class LayerPlan:
    """What one OpenCue layer will hold: kept for tests and the dry-run summary."""

    name: str
    range: str
    chunk: int
    command: str
    gpu: bool
    service: str
    tags: str


def _is_gpu(shot: Shot, settings: CueSettings) -> bool:
    if settings.gpu is not None:
        return settings.gpu
    return shot.spec.device.strip().lower().startswith("cuda")


def plan_layers(shots: list[Shot], settings: CueSettings) -> list[LayerPlan]:
    """Layers for every shot: range, chunk size, command with the chunk frame tokens."""
    layers = []
    for shot in shots:
        runs = uniform_runs(shot.frames)
        preroll = settings.preroll if shot.preroll is None else shot.preroll
        gpu = _is_gpu(shot, settings)
        for i, (start, end, step) in enumerate(runs):
            frames_arg = FRAMES_TOKEN + (f"x{step}" if step > 1 else "")
            args = run_arguments(shot.spec, frames=frames_arg, preroll=preroll)
            command = shell_command((*settings.program, "run"), args, raw={frames_arg: frames_arg})
            frame_range = f"{start}-{end}" + (f"x{step}" if step > 1 else "")
            layers.append(
                LayerPlan(
                    name=shot.name if len(runs) == 1 else f"{shot.name}_part{i + 1}",
                    range=frame_range,
                    chunk=shot.chunk_size or settings.chunk_size,
                    command=command,
                    gpu=gpu,
                    service=settings.service or ("vfxmatte_gpu" if gpu else "shell"),
                    tags=settings.tags or ("gpu" if gpu else "general"),
                )
            )
    return layers


def build_outline(shots: list[Shot], settings: CueSettings):
    """The pyoutline Outline of the job (one Shell layer per shot)."""
    import outline
    from outline.modules.shell import Shell

    ol = outline.Outline(
        settings.job_name, shot=settings.shot, show=settings.show, user=settings.user
    )
    for key, value in settings.env.items():
        ol.set_env(key, value)
    for plan in plan_layers(shots, settings):
        args = {
            "command": plan.command,
            "range": plan.range,
            "chunk": plan.chunk,
            "service": plan.service,
            "tags": plan.tags,
        }
        if plan.gpu:
            args.update(gpus=1, gpu_memory=settings.gpu_memory)
        if settings.cores:
            args["cores"] = settings.cores
        if settings.memory:
            args["memory"] = settings.memory
        ol.add_layer(Shell(plan.name, **args))
    return ol


def _launcher(shots: list[Shot], settings: CueSettings):
    import outline.cuerun

    ol = build_outline(shots, settings)
    flags: dict[str, object] = {"maxretries": settings.retries, "nomail": True}
    if settings.cuebot:
        flags["server"] = settings.cuebot
    return outline.cuerun.OutlineLauncher(ol, **flags)


def job_spec_xml(shots: list[Shot], settings: CueSettings) -> str:
    """The OpenCue job spec (XML) Cuebot would receive; needs no server.

    pyoutline writes a session folder while serialising; point it at a throwaway folder so a dry
    run leaves nothing behind.
    """
    import outline

    previous = outline.config.get("outline", "session_dir")
    with tempfile.TemporaryDirectory(prefix="vfxmatte-cue-") as tmp:
        outline.config.set("outline", "session_dir", tmp)
        try:
            return _launcher(shots, settings).serialize(use_pycuerun=False)
        finally:
            outline.config.set("outline", "session_dir", previous)


def submit(shots: list[Shot], settings: CueSettings) -> list[str]:
    """Launch the job on Cuebot through opencue-pycue; returns the launched job names."""
    launcher = _launcher(shots, settings)
    try:
        jobs = launcher.launch(use_pycuerun=False)
    except Exception as exc:  # grpc/opencue raise many types; one line for the user
        where = settings.cuebot or "the configured Cuebot (CUEBOT_HOSTS / opencue.yaml)"
        raise EngineError(
            f"OpenCue submission to {where} failed: {type(exc).__name__}: {exc}; check that "
            "Cuebot is reachable, or use --dry-run to write the job spec"
        ) from exc
    return [job.name() for job in jobs]
