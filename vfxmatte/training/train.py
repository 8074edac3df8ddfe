"""The training loop shared by ``vfxmatte train`` and ``vfxmatte finetune``.

AdamW with a cosine learning-rate schedule (a short linear warm-up first), bf16 autocast on CUDA
and plain fp32 on CPU, batch norms frozen (batches of a few crops give useless statistics, and
the encoder's come from RVM), an optional held-back batch scored every ``eval_every`` steps that
stops training when it stops improving (the best weights are kept), a time budget, periodic
checkpoints, and progress events with loss and ETA for the CLI's bar.

The budget is the process's CPU time on a CPU device and wall time on an accelerator: on a shared
CPU box the wall clock measures the neighbours' load, not the training (a 1500 s wall budget once
bought 136 s of CPU), so the same budget buys the same training on a loaded box as on an idle one.
The learning rate anneals over whichever of ``steps`` and the budget runs out first, so a run
stopped by its budget has finished its cosine (a run cut off at a high learning rate keeps the
noise of its last steps).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from vfxmatte.engines.maggie.model import MaggieNet
from vfxmatte.training.data import CropSampler
from vfxmatte.training.losses import maggie_loss


@dataclass
class FitSettings:
    steps: int = 1000
    batch: int = 4
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup: int = 20
    time_budget_s: float | None = None  # CPU seconds on a CPU device, wall seconds otherwise
    eval_every: int = 25
    patience: int = 4  # held-back evaluations without improvement before stopping
    save_every: int = 0  # steps between checkpoints (0: only at the end)
    encoder_lr_scale: float = 0.2  # pretrained encoder learns slower than the random parts


@dataclass
class Progress:
    step: int
    total: int
    loss: float
    elapsed_s: float
    eta_s: float
    holdout: float | None = None


@dataclass
class FitResult:
    steps: int
    first_loss: float
    last_loss: float
    best_holdout: float | None
    stopped: str  # "steps", "budget" or "holdout"
    elapsed_s: float
    losses: list[float] = field(default_factory=list)
    l1: list[float] = field(default_factory=list)  # the full-resolution alpha L1 term per step
    optimizer: dict | None = None
    start_holdout: float | None = None  # the held-back score of the starting weights


def freeze_batch_norms(net: nn.Module) -> None:
    """Batch norms use their stored statistics even in training (see the module docstring)."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def make_optimizer(net: MaggieNet, settings: FitSettings) -> torch.optim.AdamW:
    encoder = list(net.encoder.parameters())
    ids = {id(p) for p in encoder}
    rest = [p for p in net.parameters() if id(p) not in ids]
    return torch.optim.AdamW(
        [
            {"params": encoder, "lr": settings.lr * settings.encoder_lr_scale},
            {"params": rest, "lr": settings.lr},
        ],
        lr=settings.lr,
        weight_decay=settings.weight_decay,
    )


def cosine_factor(step: int, total: int, warmup: int, spent: float = 0.0) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine from 1 down to 0.02.

    ``spent``: the fraction of the time budget used so far; the cosine follows whichever of
    ``step / total`` and ``spent`` is further along, so it reaches 0.02 when the budget ends.
    """
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, max((step - warmup) / max(1, total - warmup), spent))
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t))


def budget_clock(device: torch.device) -> Callable[[], float]:
    """The clock the time budget counts (see the module doc): CPU time on a CPU device."""
    return time.process_time if device.type == "cpu" else time.perf_counter


def holdout_loss(net: MaggieNet, batch: tuple[torch.Tensor, ...]) -> float:
    """Mean absolute alpha error on the held-back crops (eval mode, no gradients)."""
    image, masks, truth, guide = batch
    was_training = net.training
    net.eval()
    with torch.no_grad():
        out = net(image, masks, guide=guide)
    valid = (masks.flatten(2).amax(-1) > 0).float()
    err = (out.alpha - truth).abs().flatten(2).mean(-1)
    net.train(was_training)
    freeze_batch_norms(net)
    return float((err * valid).sum() / valid.sum().clamp(min=1))


def fit(
    net: MaggieNet,
    sampler: CropSampler,
    settings: FitSettings,
    device: torch.device,
    holdout: tuple[torch.Tensor, ...] | None = None,
    start_step: int = 0,
    optimizer_state: dict | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_checkpoint: Callable[[int, dict], None] | None = None,
) -> FitResult:
    """Train ``net`` in place from ``start_step`` to ``settings.steps``; see the module doc."""
    net.to(device).train()
    freeze_batch_norms(net)
    opt = make_optimizer(net, settings)
    if optimizer_state is not None:
        opt.load_state_dict(optimizer_state)
    base = [g["lr"] for g in opt.param_groups]
    autocast = device.type == "cuda"
    if holdout is not None:
        holdout = tuple(t.to(device) for t in holdout)
    best, best_state, stale = math.inf, None, 0
    if holdout is not None:
        # The starting weights compete too: a finetune that never beats them (a guide network
        # starts as its guide) hands them back rather than its least bad trained state.
        best, best_state = holdout_loss(net, holdout), copy.deepcopy(net.state_dict())
    start_score = None if best == math.inf else best
    losses: list[float] = []
    l1: list[float] = []
    stopped = "steps"
    clock = budget_clock(device)
    start, start_budget = time.perf_counter(), clock()
    budget = settings.time_budget_s
    step = start_step
    for step in range(start_step, settings.steps):
        spent = (clock() - start_budget) / budget if budget else 0.0
        factor = cosine_factor(step, settings.steps, settings.warmup, spent)
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr * factor
        image, masks, truth, guide = (t.to(device) for t in sampler.batch(settings.batch))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            out = net(image, masks, guide=guide)
        out.alpha = out.alpha.float()
        loss = maggie_loss(out, truth, masks)
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.total.detach()))
        l1.append(loss.parts["l1"])
        elapsed = time.perf_counter() - start
        done = step + 1 - start_step
        score = None
        if holdout is not None and (step + 1) % settings.eval_every == 0:
            score = holdout_loss(net, holdout)
            if score < best - 1e-5:
                best, stale = score, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
        used = clock() - start_budget
        if on_progress is not None:
            eta = elapsed / done * (settings.steps - step - 1)
            if budget:
                eta = min(eta, elapsed / max(used, 1e-9) * max(0.0, budget - used))
            on_progress(Progress(step + 1, settings.steps, losses[-1], elapsed, eta, score))
        if on_checkpoint and settings.save_every and (step + 1) % settings.save_every == 0:
            on_checkpoint(step + 1, opt.state_dict())
        if holdout is not None and stale >= settings.patience:
            stopped = "holdout"
            break
        if budget and used >= budget:
            stopped = "budget"
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return FitResult(
        step + 1 if losses else start_step,
        losses[0] if losses else math.nan,
        losses[-1] if losses else math.nan,
        None if best == math.inf else best,
        stopped,
        time.perf_counter() - start,
        losses,
        l1,
        opt.state_dict(),
        start_score,
    )
