"""`vfxmatte bench`: end-to-end throughput and peak memory of the real pipeline at 4K and 2K.

For each resolution a float EXR demo shot (:func:`vfxmatte.demo.make_demo_shot`) is generated
once and cached; then every (resolution, people, engine, device) configuration runs the real
:class:`~vfxmatte.pipeline.Job` in its own subprocess, so each one's peak RSS (VmHWM, see
:func:`_rss_mib`) and CUDA peak (``torch.cuda.max_memory_allocated``) are its own and do not
mix. Time is split by the pipeline's own stage clock (read, colour, engine, refine, smooth,
write: each stage's own seconds per frame, wherever it ran); ``wall`` is the run's seconds per
frame end to end, which is less than the stages' sum where they overlap (read-ahead and
write-behind, :mod:`vfxmatte.io.prefetch`). Beside it, the I/O floor: decoding the same plate
frames and encoding the same matte EXRs alone, the least any engine could cost. With
``repeat`` > 1 each configuration runs that many times and every figure is the median.

The demo shot has two people. ``people > 2`` adds copies of its front figure (plate pixels, true
alpha and rough mask) composited at other places in the frame, never wrapping around its edge
(:mod:`vfxmatte.bench_crowd`): each extra person has image edges where its mask is, so it costs
the engine what a person costs. They are a throughput load, not a quality set.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

RESOLUTIONS = {"4k": (3840, 2160), "2k": (2048, 1080), "hd": (1920, 1080)}
STAGES = ("read", "colour", "engine", "refine", "smooth", "write")


@dataclass(frozen=True)
class BenchConfig:
    resolution: str
    width: int
    height: int
    engine: str
    device: str
    frames: int
    people: int
    threads: int = 0  # torch CPU threads (0: torch's default)
    overlap: bool = True  # read-ahead and write-behind (False: VFXMATTE_IO_DEPTH=0)


@dataclass
class BenchResult:
    config: BenchConfig
    ok: bool
    error: str = ""
    setup_s: float = 0.0  # Job construction: validation and engine load
    run_s: float = 0.0  # Job.run over every frame, writes included
    fps: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)  # mean seconds per frame
    wall_s: float = 0.0  # run seconds per frame, end to end (stages overlap)
    cpu_s: float = 0.0  # process CPU seconds per frame over the run, all threads (a shared box)
    io_floor_s: float = 0.0  # decode + encode of the same frames alone, seconds per frame
    runs_wall_s: list[float] = field(default_factory=list)  # wall_s of each repeat
    frame_s: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    rss_before_mib: float = 0.0  # after imports, before the job: what the job itself adds
    cuda_max_allocated_mib: float | None = None
    load_average: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "vfxmatte-bench"


def shot_folder(cache: Path, width: int, height: int, frames: int, people: int) -> Path:
    return cache / f"shot_{width}x{height}_f{frames}_p{people}"


EXTRA_PEOPLE = "composited"  # how extra people are made (a cached shot made otherwise is redone)


def ensure_shot(cache: Path, width: int, height: int, frames: int, people: int) -> dict:
    """Generate (once) the cached shot; returns {"plate": pattern, "masks": {name: pattern}}.

    ``people`` > 2: copies of the demo's front figure composited elsewhere in the plate
    (:mod:`vfxmatte.bench_crowd`), each with image edges where its mask is."""
    folder = shot_folder(cache, width, height, frames, people)
    marker = folder / "shot.json"
    if marker.exists():
        description = json.loads(marker.read_text())
        if people <= 2 or description.get("extra_people") == EXTRA_PEOPLE:
            return description
    from vfxmatte.bench_crowd import add_people
    from vfxmatte.demo import make_demo_shot

    if folder.exists():
        shutil.rmtree(folder)  # a half-written shot from an interrupted run, or an old one
    shot = make_demo_shot(folder, frames=frames, width=width, height=height)
    masks = add_people(folder, shot, people)
    description = {"plate": shot.plate, "masks": masks, "frames": shot.frames}
    description["extra_people"] = EXTRA_PEOPLE
    marker.write_text(json.dumps(description))
    return description


def _rss_mib() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux: VmHWM of /proc/self/status, the high-water mark of this process's own address space.
    Not ``ru_maxrss``: Linux carries a parent's peak into a forked child across exec, so a worker
    started by a bench that had just generated a 4K shot would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 1024.0)  # bytes on macOS, KiB elsewhere


def _job_spec(config: BenchConfig, shot: dict, out: Path):
    """The job a bench configuration runs on its generated shot (one place for both timings)."""
    from vfxmatte.jobspec import JobSpec

    return JobSpec(
        plate=shot["plate"],
        masks=shot["masks"],
        out=str(out),
        engine=config.engine,
        device=config.device,
    )


def run_config(config: BenchConfig, cache: Path) -> BenchResult:
    """Run one configuration in this process (the worker side of :func:`run_isolated`)."""
    import torch

    from vfxmatte.pipeline import Job

    shot = ensure_shot(cache, config.width, config.height, config.frames, config.people)
    result = BenchResult(config, ok=False, rss_before_mib=_rss_mib())
    out_dir = Path(tempfile.mkdtemp(prefix="out_", dir=cache))
    try:
        spec = _job_spec(config, shot, out_dir / "matte.####.exr")
        cuda = config.device.startswith("cuda")
        t0 = time.perf_counter()
        job = Job(spec)  # the real Job; its stage clock per written frame is job.frame_timings
        if cuda:
            torch.cuda.reset_peak_memory_stats(job.device)
        t1 = time.perf_counter()
        c1 = time.process_time()
        job.run()
        t2 = time.perf_counter()
        result.cpu_s = (time.process_time() - c1) / max(1, len(job.frame_timings))
        result.setup_s, result.run_s = t1 - t0, t2 - t1
        frames = list(job.frame_timings.values())
        result.fps = len(frames) / result.run_s if result.run_s > 0 else 0.0
        result.stage_s = {s: float(np.mean([f.get(s, 0.0) for f in frames])) for s in STAGES}
        result.frame_s = [float(sum(f.values())) for f in frames]
        result.wall_s = result.run_s / max(1, len(frames))
        result.runs_wall_s = [result.wall_s]
        result.io_floor_s = io_floor(job, out_dir)
        if cuda:
            result.cuda_max_allocated_mib = torch.cuda.max_memory_allocated(job.device) / 2**20
        result.ok = True
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    result.peak_rss_mib = _rss_mib()
    result.load_average = list(os.getloadavg())
    return result


def io_floor(job, out_dir: Path) -> float:
    """Median seconds per frame to decode the job's plate frames and encode its written mattes
    again (same channels, windows, metadata and compression): the I/O a frame cannot avoid."""
    from vfxmatte.io.images import read_image, write_exr

    seconds = []
    for frame in job.frames:
        written = job.out.path(frame)
        matte = read_image(written, "bench matte")  # untimed: the channels to encode
        channels = {name: matte.channel(name) for name in matte.channels}
        again = out_dir / f"floor.{frame}.exr"
        t0 = time.perf_counter()
        job.plate.read(frame)
        write_exr(
            again,
            channels,
            matte.data_window,
            matte.display_window,
            metadata=matte.metadata,
            compression=job.compression,
        )
        seconds.append(time.perf_counter() - t0)
        again.unlink()
    return float(np.median(seconds)) if seconds else 0.0


def closed_form_race(config: BenchConfig, cache: Path, repeat: int = 3) -> dict:
    """The engine against pymatting's closed form on the same frame and the same trimaps.

    The shot's first frame is read and converted as a run would; the engine mattes it
    ``repeat`` times (the median counts: a farm task mattes frame after frame, warm); then
    pymatting's ``estimate_alpha_cf`` solves each person on the trimap the engine used.
    """
    import torch
    from pymatting import estimate_alpha_cf

    from vfxmatte.engines import EngineInput
    from vfxmatte.pipeline import Job

    shot = ensure_shot(cache, config.width, config.height, config.frames, config.people)
    job = Job(_job_spec(config, shot, cache / "race.####.exr"))
    frame = job.frames[0]
    plate, rgb, _ = job._load_plate(frame)
    masks = job.masks.load(frame, plate.data_window, plate.display_window)
    inp = EngineInput(
        image=job._to_tensor(rgb),
        masks=torch.from_numpy(masks.masks).to(job.device),
        names=masks.names,
        frame=frame,
    )
    runs, cpu = [], []
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        out = job.engine.matte(inp)
        if job.device.type == "cuda":
            torch.cuda.synchronize(job.device)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    image = np.clip(rgb, 0, 1).astype(np.float64)
    t0, c0 = time.perf_counter(), time.process_time()
    for trimap in out.diagnostics["trimaps"].cpu().double().numpy():
        estimate_alpha_cf(image, trimap)
    closed, closed_cpu = time.perf_counter() - t0, time.process_time() - c0
    engine = float(np.median(runs))
    return {
        "frame": f"{config.width}x{config.height}",
        "people": len(masks.names),
        "engine_s": engine,
        "engine_runs_s": runs,
        "pymatting_cf_s": closed,
        "speedup": closed / engine if engine > 0 else 0.0,
        # process CPU seconds (all threads): what a shared, loaded box cannot inflate
        "engine_cpu_s": float(np.median(cpu)),
        "pymatting_cf_cpu_s": closed_cpu,
        "cpu_speedup": closed_cpu / float(np.median(cpu)) if np.median(cpu) > 0 else 0.0,
    }


def run_isolated(config: BenchConfig, cache: Path, timeout: float | None = None) -> BenchResult:
    """Run one configuration in a fresh Python process so its memory peaks are its own."""
    env = dict(os.environ)
    if not config.overlap:
        env["VFXMATTE_IO_DEPTH"] = "0"
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "vfxmatte.bench", json.dumps(asdict(config)), str(cache)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return BenchResult(config, ok=False, error=f"timed out after {timeout:.0f} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return BenchResult(config, ok=False, error=f"exit {proc.returncode}: {tail}")
    data = json.loads(lines[-1])
    data["config"] = config
    return BenchResult(**data)


def parse_resolution(name: str) -> tuple[int, int]:
    """``4k`` / ``2k`` / ``hd`` or ``WIDTHxHEIGHT`` (e.g. ``192x108`` for a quick check)."""
    from vfxmatte.errors import BadArgumentError

    key = name.strip().lower()
    if key in RESOLUTIONS:
        return RESOLUTIONS[key]
    w, sep, h = key.partition("x")
    if sep and w.isdigit() and h.isdigit() and int(w) >= 64 and int(h) >= 36:
        return int(w), int(h)
    raise BadArgumentError(
        f"--resolution {name}: choose {', '.join(RESOLUTIONS)} or WIDTHxHEIGHT (at least 64x36)"
    )


def run_bench(
    resolutions: list[str],
    engines: list[str],
    devices: list[str],
    frames: int,
    people: int | list[int],
    cache: Path,
    log=lambda _: None,
    timeout: float | None = None,
    repeat: int = 1,
    threads: int = 0,
    overlap: tuple[bool, ...] = (True,),
) -> list[BenchResult]:
    """Generate the shots here (outside the measured processes), then time each configuration
    ``repeat`` times (each in a fresh process) and keep the medians."""
    counts = [people] if isinstance(people, int) else list(people)
    configs = []
    for res in resolutions:
        width, height = parse_resolution(res)
        for n in counts:
            t0 = time.perf_counter()
            ensure_shot(cache, width, height, frames, n)
            took = time.perf_counter() - t0
            log(f"bench: shot {res} {width}x{height} {n} people ready ({took:.1f} s)")
            configs += [
                BenchConfig(res, width, height, e, d, frames, n, threads, o)
                for e in engines
                for d in devices
                for o in overlap
            ]
    results = []
    for c in configs:
        what = f"{c.resolution} people={c.people} engine={c.engine} device={c.device}"
        what += "" if c.overlap else " overlap=off"
        runs = []
        for k in range(max(1, repeat)):
            log(f"bench: running {what} ({k + 1}/{max(1, repeat)}) ...")
            runs.append(run_isolated(c, cache, timeout))
        r = median_result(runs)
        state = f"{r.wall_s:.2f} s/frame, peak RSS {r.peak_rss_mib:.0f} MiB" if r.ok else r.error
        log(f"bench: {what}: {state}")
        results.append(r)
    return results


def median_result(runs: list[BenchResult]) -> BenchResult:
    """One result from repeated runs of a configuration: every time the median, memory the
    maximum; a failed run makes the whole configuration fail."""
    failed = [r for r in runs if not r.ok]
    if failed or len(runs) == 1:
        return failed[0] if failed else runs[0]

    def med(values) -> float:
        return float(np.median(list(values)))

    out = BenchResult(runs[0].config, ok=True)
    for name in ("setup_s", "run_s", "fps", "wall_s", "cpu_s", "io_floor_s", "rss_before_mib"):
        setattr(out, name, med(getattr(r, name) for r in runs))
    out.stage_s = {s: med(r.stage_s.get(s, 0.0) for r in runs) for s in STAGES}
    out.frame_s = [med(col) for col in zip(*(r.frame_s for r in runs), strict=False)]
    out.runs_wall_s = [r.wall_s for r in runs]
    out.peak_rss_mib = max(r.peak_rss_mib for r in runs)
    cuda = [r.cuda_max_allocated_mib for r in runs if r.cuda_max_allocated_mib is not None]
    out.cuda_max_allocated_mib = max(cuda) if cuda else None
    out.load_average = runs[-1].load_average
    return out


def available_devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def available_engines() -> list[str]:
    from vfxmatte.engines import list_engines

    return [e.name for e in list_engines() if e.available]


def machine() -> dict:
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def table(results: list[BenchResult]) -> str:
    """Markdown table: stage split, the stages' sum, the wall time per frame (the stages
    overlap), the I/O floor beside it, wall over the slowest stage, fps and memory."""
    header = ["res", "engine", "device", "people", "frames", *STAGES, "sum", "wall s/frame"]
    header += ["CPU s/frame", "I/O floor", "wall/slowest", "fps", "peak RSS MiB", "CUDA max MiB"]
    rows = []
    for r in results:
        c = r.config
        size = f"{c.resolution} {c.width}x{c.height}"
        device = c.device + (f" x{c.threads}" if c.threads else "")
        device += "" if c.overlap else " no-overlap"
        if not r.ok:
            rows.append(
                [size, c.engine, device, str(c.people), str(c.frames), f"FAILED: {r.error}"]
            )
            continue
        cuda = "-" if r.cuda_max_allocated_mib is None else f"{r.cuda_max_allocated_mib:.0f}"
        slowest = max(r.stage_s.get(s, 0.0) for s in STAGES)
        ratio = f"{r.wall_s / slowest:.2f}" if slowest > 0 else "-"
        rows.append(
            [size, c.engine, device, str(c.people), str(c.frames)]
            + [f"{r.stage_s.get(s, 0.0):.2f}" for s in STAGES]
            + [f"{float(np.mean(r.frame_s)):.2f}", f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}"]
            + [f"{r.io_floor_s:.2f}"]
            + [ratio, f"{r.fps:.3f}", f"{r.peak_rss_mib:.0f}", cuda]
        )
    widths = [
        max(len(header[i]), *(len(r[i]) for r in rows if i < len(r))) for i in range(len(header))
    ]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)]) + "\n"


def race_isolated(config: BenchConfig, cache: Path, timeout: float | None = None) -> dict:
    """:func:`closed_form_race` in a fresh process (its threads and memory its own)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "vfxmatte.bench", json.dumps(asdict(config)), str(cache), "race"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def _worker(argv: list[str]) -> int:
    config = BenchConfig(**json.loads(argv[0]))
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    if argv[2:] == ["race"]:
        print(json.dumps(closed_form_race(config, Path(argv[1]))), flush=True)
        return 0
    result = run_config(config, Path(argv[1]))
    data = result.as_dict()
    data.pop("config")
    print(json.dumps(data), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
