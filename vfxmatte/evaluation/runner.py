"""Run methods over a dataset, write their predictions and score them.

A clip's frames are read once and each method predicts the whole clip (a bidirectional temporal
smoother needs later frames); then frames are scored in order, so the ground truth's optical
flow (for MESSDdt) is computed once per frame pair and only the previous frame of each method is
held for the temporal metrics. Single images are predicted and scored one at a time. Predictions go to ``OUT/alphas/`` (the engine)
and ``OUT/baselines/<name>/alphas/`` in exactly the layout of the dataset's ``alphas/``, as
16-bit PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from vfxmatte import metrics
from vfxmatte.errors import OutputError
from vfxmatte.evaluation.dataset import Dataset, LoadedSample, load
from vfxmatte.evaluation.methods import Method
from vfxmatte.evaluation.sheet import SheetCollector
from vfxmatte.evaluation.strands import strand_recovery
from vfxmatte.evaluation.temporal import Smoother, SmootherFactory
from vfxmatte.refine.consistency import enforce_instance_consistency

Log = Callable[[str], None]


@dataclass
class EvalRun:
    """Everything measured, in plain Python types (becomes results.json)."""

    samples: list[dict] = field(default_factory=list)
    clips: dict[str, dict[str, dict]] = field(default_factory=dict)


def prediction_root(out: Path, method: Method) -> Path:
    return out / "alphas" if method.kind == "engine" else out / "baselines" / method.name / "alphas"


def write_alpha_png(path: Path, alpha: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.rint(np.clip(alpha, 0, 1) * 65535).astype(np.uint16)):
        raise OutputError(f"cannot write prediction {path}; check the --out folder")


def score_instances(pred: np.ndarray, truth: np.ndarray, names: list[str]) -> dict:
    """Per-instance image metrics, leakage and IMQ for one sample and one method."""
    leaks = metrics.leakage(pred, truth)
    per: dict[str, dict] = {}
    for i, name in enumerate(names):
        per[name] = {
            "sad": metrics.sad(pred[i], truth[i]),
            "mse": metrics.mse(pred[i], truth[i]),
            "mad": metrics.mad(pred[i], truth[i]),
            "grad": metrics.grad(pred[i], truth[i]),
            "conn": metrics.conn(pred[i], truth[i]),
            "leak": leaks[i],
            "strands": _strands(pred[i], truth[i]),
        }
    mean = {k: float(np.mean([p[k] for p in per.values()])) for k in metrics_keys()}
    leak_values = [v for v in leaks if v is not None]
    return {
        "instances": per,
        "mean": mean,
        "leak_max": max(leak_values) if leak_values else None,
        "leak_mean": float(np.mean(leak_values)) if leak_values else None,
        "imq_mad": metrics.imq(pred, truth, "mad").as_dict(),
        "imq_mse": metrics.imq(pred, truth, "mse").as_dict(),
    }


def _strands(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """Strand recovery (evaluation/strands.py); None where the truth has no strands."""
    value = strand_recovery(pred, truth)
    return None if np.isnan(value) else value


def metrics_keys() -> tuple[str, ...]:
    return ("sad", "mse", "mad", "grad", "conn")


class _ClipState:
    """The previous frame of a clip: truths, and each method's prediction, for dtSSD/MESSDdt."""

    def __init__(self) -> None:
        self.truth: np.ndarray | None = None
        self.preds: dict[str, np.ndarray] = {}
        self.flows: list[np.ndarray] = []
        self.pairs: dict[str, dict[str, list[tuple[float, float]]]] = {}

    def start_frame(self, truth: np.ndarray) -> None:
        prev = self.truth
        self.flows = (
            [metrics.alpha_flow(prev[i], truth[i]) for i in range(len(truth))]
            if prev is not None and prev.shape == truth.shape
            else []
        )

    def add(self, method: str, names: list[str], pred: np.ndarray, truth: np.ndarray) -> None:
        prev_pred = self.preds.get(method)
        if self.flows and prev_pred is not None and prev_pred.shape == pred.shape:
            for i, name in enumerate(names):
                pair = (
                    metrics.dtssd_pair(pred[i], prev_pred[i], truth[i], self.truth[i]),
                    metrics.messddt_pair(
                        pred[i], prev_pred[i], truth[i], self.truth[i], self.flows[i]
                    ),
                )
                self.pairs.setdefault(method, {}).setdefault(name, []).append(pair)
        self.preds[method] = pred

    def end_frame(self, truth: np.ndarray) -> None:
        self.truth = truth

    def summary(self) -> dict[str, dict]:
        out = {}
        for method, per in self.pairs.items():
            inst = {
                n: {
                    "dtssd": float(np.mean([p[0] for p in v])),
                    "messddt": float(np.mean([p[1] for p in v])),
                    "pairs": len(v),
                }
                for n, v in per.items()
            }
            out[method] = {
                "dtssd": float(np.mean([v["dtssd"] for v in inst.values()])),
                "messddt": float(np.mean([v["messddt"] for v in inst.values()])),
                "instances": inst,
            }
        return out


def evaluate(
    dataset: Dataset,
    methods: list[Method],
    out: Path,
    guidance: str = "masks",
    smoother: SmootherFactory | None = None,
    sheet: SheetCollector | None = None,
    log: Log = lambda _: None,
) -> EvalRun:
    """Run every method on every sample; write predictions; return the per-sample scores."""
    run = EvalRun()
    total = len(dataset.samples)
    for clip, clip_samples in dataset.by_clip().items():
        groups = [clip_samples] if clip is not None else [[s] for s in clip_samples]
        for samples in groups:
            _evaluate_group(samples, clip, methods, out, guidance, smoother, sheet, log, run, total)
    return run


def _evaluate_group(
    samples: list,
    clip: str | None,
    methods: list[Method],
    out: Path,
    guidance: str,
    smoother: SmootherFactory | None,
    sheet: SheetCollector | None,
    log: Log,
    run: EvalRun,
    total: int,
) -> None:
    """Predict one clip (or one image) with every method, then score its frames in order."""
    state = _ClipState() if clip is not None else None
    for m in methods:
        m.reset()
    clip_loaded = [load(s, guidance) for s in samples]
    predicted = {
        m.name: _predict_clip(m, clip_loaded, smoother() if smoother and clip else None)
        for m in methods
    }
    for position, (sample, loaded) in enumerate(zip(samples, clip_loaded, strict=True)):
        if state is not None:
            state.start_frame(loaded.truths)
        record = _sample_record(loaded)
        for m in methods:
            pred, seconds = predicted[m.name][position]
            for i, name in enumerate(loaded.names):
                write_alpha_png(prediction_root(out, m) / sample.out_dir / f"{name}.png", pred[i])
            scores = score_instances(pred, loaded.truths, loaded.names)
            scores["seconds"] = seconds
            record["methods"][m.name] = scores
            if state is not None:
                state.add(m.name, loaded.names, pred, loaded.truths)
            if sheet is not None:
                sheet.add_prediction(loaded, m.name, pred)
        if state is not None:
            state.end_frame(loaded.truths)
        if sheet is not None:
            sheet.add_sample(loaded)
        run.samples.append(record)
        timing = " ".join(f"{name}={r['seconds']:.2f}s" for name, r in record["methods"].items())
        log(f"eval: {sample.key} ({len(run.samples)}/{total}) {timing}")
    if state is not None:
        run.clips[str(clip)] = state.summary()


def _predict_clip(
    method: Method, clip: list[LoadedSample], smoother: Smoother | None
) -> list[tuple[np.ndarray, float]]:
    """Each frame's final alphas and seconds: an engine's per-frame path already ran
    (vfxmatte.frame); a baseline gets the same consistency and temporal smoothing here."""
    outputs = method.predict_clip(clip)
    if method.final:
        return outputs
    preds = [
        enforce_instance_consistency(torch.from_numpy(np.ascontiguousarray(raw)))[0]
        .numpy()
        .astype(np.float32)
        for raw, _ in outputs
    ]
    if smoother is not None:
        preds = smoother(preds, [loaded.image for loaded in clip])
    return [(p, s) for p, (_, s) in zip(preds, outputs, strict=True)]


def _sample_record(loaded: LoadedSample) -> dict:
    h, w = loaded.truths.shape[1:]
    return {
        "key": loaded.sample.key,
        "clip": loaded.sample.clip,
        "size": [int(w), int(h)],
        "instances": list(loaded.names),
        "rough_mask_mad": {
            n: metrics.mad(loaded.masks[i], loaded.truths[i]) for i, n in enumerate(loaded.names)
        },
        "methods": {},
    }
