"""One evaluation end to end: discover, run, score, write results and the contact sheet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfxmatte.devices import resolve_device
from vfxmatte.errors import BadArgumentError
from vfxmatte.evaluation import SHEET_ROWS
from vfxmatte.evaluation.against import compare_runs, load_reference
from vfxmatte.evaluation.dataset import discover
from vfxmatte.evaluation.methods import PymattingCF, check_baselines, make_methods
from vfxmatte.evaluation.report import build_results, write_results
from vfxmatte.evaluation.runner import evaluate
from vfxmatte.evaluation.sheet import SheetCollector
from vfxmatte.evaluation.temporal import make_smoother
from vfxmatte.io.atomic import ensure_writable_dir
from vfxmatte.jobspec import field_default


@dataclass
class EvalOutcome:
    results: dict
    json_path: Path
    table_path: Path
    sheet_path: Path | None


def run_evaluation(
    dataset_path: str | Path,
    out: str | Path,
    engine: str | None = "guided",
    baselines: list[str] | None = None,
    guidance: str = "masks",
    device: str = "auto",
    engine_options: Mapping[str, Any] | None = None,
    temporal_strength: float | None = None,
    limit: int | None = None,
    sheet_rows: int = SHEET_ROWS,
    against: str | Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> EvalOutcome:
    """Evaluate ``engine`` and ``baselines`` on a dataset; everything lands under ``out``.

    against: a reference run's results.json (or its folder): clips are also scored against it
    (dtSSD, per-instance MAD, worst frame's MAD ratio; :mod:`vfxmatte.evaluation.against`)."""
    check_baselines(baselines or [])
    reference = load_reference(against) if against is not None else None
    if not engine and not baselines:
        raise BadArgumentError("nothing to evaluate: give --engine and/or --baseline")
    dataset = discover(dataset_path, guidance, limit)
    out = Path(out)
    ensure_writable_dir(out)
    resolved = str(resolve_device(device))
    smoother, temporal_note = make_smoother(temporal_strength)
    # as `vfxmatte run`: the spec's default strength unless given (each image is its own shot)
    strength = (
        field_default("temporal_strength") if temporal_strength is None else temporal_strength
    )
    methods = make_methods(engine, baselines or [], resolved, engine_options, strength)
    notes = []
    if dataset.kind != "images":
        notes.append(temporal_note)
    if dataset.ignored:
        notes.append(f"ignored folders: {', '.join(dataset.ignored)}")
    sheet = SheetCollector([s.key for s in dataset.samples], [m.name for m in methods], sheet_rows)
    run = evaluate(dataset, methods, out, guidance, smoother, sheet, log)
    for m in methods:
        if isinstance(m, PymattingCF) and m.fallbacks:
            notes.append(
                f"pymatting-cf: {m.fallbacks} instance(s) kept the rough mask (trimap without "
                "foreground or background)"
            )
    results = build_results(run, dataset, methods, guidance, resolved, notes)
    sheet_path = sheet.save(out / "contact_sheet.png")
    if reference is not None:
        results["against"] = compare_runs(results, reference)
    results["contact_sheet"] = str(sheet_path) if sheet_path else None
    json_path, table_path = write_results(out, results)
    return EvalOutcome(results, json_path, table_path, sheet_path)
