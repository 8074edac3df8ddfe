"""`vfxmatte bench`: frames per second, stage split and peak memory of the real pipeline."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from vfxmatte.errors import BadArgumentError, ExitCode


def bench(
    resolution: Annotated[
        list[str] | None, typer.Option(help="4k (3840x2160), 2k (2048x1080), hd; repeat")
    ] = None,
    engine: Annotated[
        list[str] | None, typer.Option(help="Engines to time (default: every available one)")
    ] = None,
    device: Annotated[
        list[str] | None, typer.Option(help="cpu, cuda (default: every available one)")
    ] = None,
    frames: Annotated[int, typer.Option(min=1, help="Frames per shot")] = 2,
    people: Annotated[
        list[int] | None,
        typer.Option(
            min=1,
            help="People per frame (demo has 2; more are copies of a figure placed elsewhere)",
        ),
    ] = None,
    repeat: Annotated[
        int, typer.Option(min=1, help="Runs per configuration (fresh processes); medians kept")
    ] = 1,
    threads: Annotated[
        int, typer.Option(min=0, help="Torch CPU threads per run (0: torch's default)")
    ] = 0,
    scaling: Annotated[
        bool,
        typer.Option(
            "--scaling",
            help="Sweep HD, 2K, 4K x 1, 2, 4, 8 people (how cost grows; long on a CPU)",
        ),
    ] = False,
    overlap: Annotated[
        str, typer.Option(help="Read-ahead/write-behind: on, off, or both (side by side)")
    ] = "on",
    cache: Annotated[
        Path | None, typer.Option(help="Where generated shots are kept (default: temp folder)")
    ] = None,
    json_out: Annotated[Path, typer.Option("--json", help="Results JSON")] = Path(
        "bench-results.json"
    ),
    timeout: Annotated[float | None, typer.Option(help="Seconds allowed per configuration")] = None,
    pymatting: Annotated[
        bool,
        typer.Option(
            "--pymatting",
            help="Also time the engine against pymatting's closed form on the same first frame "
            "and trimaps (minutes at 4K)",
        ),
    ] = False,
) -> None:
    """Time the pipeline (read, colour, engine, refine, smooth, write) on generated 4K and 2K
    EXR shots, with the wall time per frame (stages overlap) and the I/O floor beside it."""
    from vfxmatte import bench as b

    engines = list(engine or b.available_engines())
    devices = list(device or b.available_devices())
    for d in devices:
        if d.startswith("cuda") and "cuda" not in b.available_devices():
            raise BadArgumentError(f"--device {d}: no CUDA device here; use --device cpu")
    modes = {"on": (True,), "off": (False,), "both": (False, True)}
    if overlap not in modes:
        raise BadArgumentError(f"--overlap {overlap}: choose on, off or both")
    if scaling:
        resolution = list(resolution or ["hd", "2k", "4k"])
        people = list(people or [1, 2, 4, 8])
    cache = cache or b.default_cache()
    started = time.perf_counter()
    results = b.run_bench(
        list(resolution or ["4k", "2k"]),
        engines,
        devices,
        frames,
        list(people or [2]),
        cache,
        log=lambda line: typer.echo(line, err=True),
        timeout=timeout,
        repeat=repeat,
        threads=threads,
        overlap=modes[overlap],
    )
    races = []
    if pymatting:
        for r in results:
            typer.echo(f"bench: closed-form race {r.config.resolution} ...", err=True)
            race = b.race_isolated(r.config, cache, timeout)
            races.append({"config": asdict(r.config), **race})
            if "error" in race:
                typer.echo(f"bench: closed-form race failed: {race['error']}", err=True)
                continue
            typer.echo(
                f"engine {race['engine_s']:.2f} s vs pymatting closed form "
                f"{race['pymatting_cf_s']:.2f} s on the same {race['frame']} frame and "
                f"trimaps ({race['people']} people): {race['speedup']:.1f}x; process CPU "
                f"{race['engine_cpu_s']:.2f} s vs {race['pymatting_cf_cpu_s']:.2f} s: "
                f"{race['cpu_speedup']:.1f}x"
            )
    total = time.perf_counter() - started
    typer.echo(b.table(results))
    payload = {
        "machine": b.machine(),
        "command_seconds": total,
        "cache": str(cache),
        "stages": list(b.STAGES),
        "results": [r.as_dict() for r in results],
        "closed_form_race": races,
    }
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(payload, indent=2))
    typer.echo(f"vfxmatte: bench took {total:.0f} s; results in {json_out.resolve()}")
    if not all(r.ok for r in results):
        raise typer.Exit(int(ExitCode.ENGINE_FAILURE))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
