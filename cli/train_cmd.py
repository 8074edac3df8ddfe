"""``vfxmatte train`` and ``vfxmatte finetune``: make maggie checkpoints (safetensors).

train: from sets in the dev-sets layout (``vfxmatte synth`` output, or real sets), or toy
composites for a smoke run. finetune: one shot from a few frames whose alphas were fixed by hand.
Both print a progress bar with loss and ETA on a terminal, one line per ``--log-every`` steps
otherwise (farm logs), and write the checkpoint atomically with its architecture and settings.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Annotated

import torch
import typer

from vfxmatte.errors import BadArgumentError
from vfxmatte.training.recipe import FinetuneSettings

_RECIPE = FinetuneSettings()  # finetune's option defaults: the recipe lives in one place

_Threads = Annotated[int, typer.Option(min=1, help="Torch CPU threads (1 on a shared box)")]


class _Reporter:
    """A rich bar (loss, ETA) on a terminal, else one parseable line every ``every`` steps."""

    def __init__(self, total: int, every: int, label: str):
        self.every = every
        self.bar = None
        if sys.stdout.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} loss {task.fields[loss]:.4f}"),
                TimeRemainingColumn(),
            )
            self.task = self.bar.add_task(label, total=total, loss=float("nan"))
            self.bar.start()

    def __call__(self, p) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=p.step, loss=p.loss)
        elif p.step % self.every == 0 or p.step == p.total or p.holdout is not None:
            held = "" if p.holdout is None else f" holdout={p.holdout:.5f}"
            print(
                f"step {p.step}/{p.total} loss={p.loss:.5f}{held} "
                f"elapsed={p.elapsed_s:.0f}s eta={p.eta_s:.0f}s",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _device(spec: str) -> torch.device:
    from vfxmatte.devices import resolve_device

    return resolve_device(spec)


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# The options train and finetune share (each command sets its own defaults).
_Steps = Annotated[int, typer.Option(min=1, help="At most this many steps")]
_Batch = Annotated[int, typer.Option(min=1, help="Crops per step")]
_Crop = Annotated[int, typer.Option(min=32, help="Crop size in px")]
_Lr = Annotated[float, typer.Option(min=0.0, help="Peak learning rate (cosine schedule)")]
_LongSide = Annotated[int, typer.Option(min=64, help="Working scale (long side, px)")]
_LogEvery = Annotated[int, typer.Option(min=1, help="Log line every N steps (not a terminal)")]
_Seed = Annotated[int, typer.Option(help="Random seed of crops and augmentations")]
_Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")]
_BUDGET_HELP = "Stop after S seconds: CPU time when training on the CPU, else wall time"


def _fit_and_report(label: str, steps: int, log_every: int, threads: int, body):
    """The preamble and epilogue both commands share: threads, progress bar, CPU time.

    ``body(reporter)`` runs the training and returns ``(out, result, save)``; ``save()`` writes
    the checkpoint, then the summary line (steps, losses, wall and CPU time, peak RSS) follows.
    """
    torch.set_num_threads(threads)
    report = _Reporter(steps, log_every, label)
    started_cpu = time.process_time()
    try:
        out, result, save = body(report)
    finally:
        report.close()
    save()
    cpu = time.process_time() - started_cpu
    print(
        f"wrote {out}: {result.steps} steps, loss {result.first_loss:.4f} -> "
        f"{result.last_loss:.4f}, stopped by {result.stopped}, wall {result.elapsed_s:.0f}s, "
        f"cpu {cpu:.0f}s, peak RSS {_peak_rss_gib():.2f} GiB",
        flush=True,
    )


def train_command(
    out: Annotated[Path, typer.Option(help="Checkpoint to write (.safetensors)")],
    data: Annotated[
        list[Path] | None, typer.Option(help="Set in the dev-sets layout (repeat for several)")
    ] = None,
    toy: Annotated[int, typer.Option(min=0, help="Add N toy composites (smoke runs)")] = 0,
    steps: _Steps = 2000,
    batch: _Batch = 4,
    crop: _Crop = 256,
    lr: _Lr = 5e-4,
    long_side: _LongSide = 960,
    init: Annotated[str, typer.Option(help="rvm (encoder from RVM) or none (all random)")] = "rvm",
    tiny: Annotated[bool, typer.Option(help="The narrow test network")] = False,
    resume: Annotated[Path | None, typer.Option(help="Continue this checkpoint's run")] = None,
    time_budget: Annotated[float | None, typer.Option(help=_BUDGET_HELP)] = None,
    save_every: Annotated[int, typer.Option(min=0, help="Checkpoint every N steps")] = 200,
    log_every: _LogEvery = 10,
    seed: _Seed = 0,
    device: _Device = "auto",
    threads: _Threads = 1,
) -> None:
    """Train a maggie network on composites with true alphas; resumable."""
    from vfxmatte.engines.maggie import checkpoint
    from vfxmatte.engines.maggie.config import TINY, MaggieConfig
    from vfxmatte.engines.maggie.model import MaggieNet
    from vfxmatte.training.data import CropSampler, load_dev_set, toy_composites
    from vfxmatte.training.train import FitSettings, fit

    torch.manual_seed(seed)
    if init not in ("rvm", "none"):
        raise BadArgumentError(f"--init {init}: expected rvm or none")
    samples = []
    for folder in data or []:
        samples += load_dev_set(folder, long_side)
    if toy:
        samples += toy_composites(toy, size=min(crop, 128), seed=seed)
    if not samples:
        raise BadArgumentError("no training data: give --data SET (dev-sets layout) or --toy N")
    start, optim, meta = 0, None, {}
    if resume:
        ckpt = checkpoint.load(resume, with_optimizer=True)
        net, start, optim, meta = ckpt.net, ckpt.step, ckpt.optimizer, dict(ckpt.metadata)
    else:
        net = MaggieNet(TINY if tiny else MaggieConfig())
        meta["maggie:init"] = (
            checkpoint.init_from_rvm(net) if init == "rvm" else "all random (--init none)"
        )
    meta.update({"maggie:long_side": str(long_side), "maggie:data": ",".join(map(str, data or []))})
    settings = FitSettings(
        steps=steps, batch=batch, lr=lr, time_budget_s=time_budget, save_every=save_every
    )

    def body(report):
        def save_at(step: int, optimizer: dict) -> None:
            checkpoint.save(out, net, step, meta, optimizer)

        result = fit(
            net,
            CropSampler(samples, crop, seed=seed),
            settings,
            _device(device),
            start_step=start,
            optimizer_state=optim,
            on_progress=report,
            on_checkpoint=save_at,
        )
        return (
            out,
            result,
            lambda: checkpoint.save(out, net.cpu(), result.steps, meta, result.optimizer),
        )

    _fit_and_report("train", steps, log_every, threads, body)


def _parse_named(items: list[str], flag: str) -> dict[str, str]:
    from cli.run_cmd import parse_mask_options

    try:
        return parse_mask_options(items)
    except BadArgumentError as exc:
        raise BadArgumentError(str(exc).replace("--mask", flag)) from None


def finetune_command(
    out: Annotated[Path, typer.Option(help="Shot checkpoint to write (.safetensors)")],
    frames: Annotated[str, typer.Option(help="Fixed frames, e.g. 1001,1040,1080")],
    plate: Annotated[str | None, typer.Option(help="Plate sequence, e.g. plate.####.exr")] = None,
    mask: Annotated[
        list[str] | None, typer.Option(help="NAME=PATH rough mask sequence (repeat)")
    ] = None,
    truth: Annotated[
        list[str] | None, typer.Option(help="NAME=PATH fixed alpha sequence (repeat)")
    ] = None,
    clip: Annotated[
        Path | None, typer.Option(help="A clip in the dev-sets layout instead of plate/masks")
    ] = None,
    colorspace: Annotated[str | None, typer.Option(help="The plate's colourspace")] = None,
    init: Annotated[
        Path | None, typer.Option(help="Start from this maggie checkpoint (else RVM encoder)")
    ] = None,
    guide: Annotated[
        bool | None,
        typer.Option(
            help="Learn corrections over the guided engine's alphas (read as a guide input); "
            "--no-guide: matte from the rough masks alone [default: as --init was made, else "
            "--guide]"
        ),
    ] = None,
    guide_alphas: Annotated[
        str | None,
        typer.Option(
            help="The shot's rendered guided pass instead of running it: a template with "
            "{frame}, {name}, {index}, e.g. G/alphas/{frame:04d}/{name}.png"
        ),
    ] = None,
    steps: _Steps = _RECIPE.steps,
    batch: _Batch = _RECIPE.batch,
    crop: _Crop = _RECIPE.crop,
    lr: _Lr = _RECIPE.lr,
    long_side: _LongSide = _RECIPE.long_side,
    time_budget: Annotated[float, typer.Option(help=_BUDGET_HELP)] = _RECIPE.time_budget_s,
    patience: Annotated[
        int, typer.Option(min=1, help="Held-back checks without gain")
    ] = _RECIPE.patience,
    log_every: _LogEvery = 10,
    seed: _Seed = _RECIPE.seed,
    device: _Device = "auto",
    threads: _Threads = 1,
) -> None:
    """Learn one shot from a few hand-fixed frames; then run --engine maggie --weights OUT."""
    from dataclasses import replace

    from vfxmatte.engines.maggie import checkpoint
    from vfxmatte.engines.maggie.config import MaggieConfig
    from vfxmatte.sequence import parse_frames
    from vfxmatte.training import finetune as ft

    torch.set_num_threads(threads)
    frame_list = parse_frames(frames)
    dev = _device(device)
    net, how = ft.start_network(init, replace(MaggieConfig(), guide=guide is not False))
    if guide is not None and net.config.guide != guide:
        flag = "--guide" if net.config.guide else "--no-guide"
        raise BadArgumentError(f"--init {init} was made with {flag}; finetune it with {flag}")
    source_of_guide = ft.GuideSource(dev, guide_alphas) if net.config.guide else None
    if clip is not None:
        samples = ft.clip_samples(clip, frame_list, long_side, source_of_guide)
        source = f"clip {clip} frames {frames}"
    else:
        if not plate or not mask or not truth:
            raise BadArgumentError("finetune needs --plate, --mask and --truth (or --clip)")
        samples = ft.plate_samples(
            plate,
            _parse_named(mask, "--mask"),
            _parse_named(truth, "--truth"),
            frame_list,
            long_side,
            colorspace,
            source_of_guide,
        )
        source = f"plate {plate} frames {frames}"
    settings = replace(
        _RECIPE,
        long_side=long_side,
        crop=crop,
        batch=batch,
        steps=steps,
        lr=lr,
        time_budget_s=time_budget,
        patience=patience,
        seed=seed,
    )

    def body(report):
        result = ft.run_finetune(net, samples, settings, dev, report)
        meta = {
            "maggie:init": how,
            "maggie:long_side": str(long_side),
            "maggie:finetune": source,
            "maggie:holdout_mad": f"{result.best_holdout}",
            "maggie:holdout_mad_start": f"{result.start_holdout}",
        }
        print(f"held-back MAD {result.start_holdout} -> {result.best_holdout}", flush=True)
        return out, result, lambda: checkpoint.save(out, net.cpu(), result.steps, meta)

    _fit_and_report("finetune", steps, log_every, threads, body)


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``finetune`` to ``app``."""
    app.command("train")(train_command)
    app.command("finetune")(finetune_command)
