"""What a farm run did, shot by shot, and the one-line verdict a farm wrapper keys on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vfxmatte.errors import ExitCode, VfxMatteError
from vfxmatte.refine.temporal import OVERRIDE_ATTRIBUTE, large_overrides, parse_overrides
from vfxmatte.sequence import SequencePath, format_frames


@dataclass
class ShotOutcome:
    name: str
    frames: list[int]
    written: set[int] = field(default_factory=set)
    skipped: set[int] = field(default_factory=set)
    missing: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one per failed chunk
    temps_removed: int = 0
    # frame -> {layer: override} where the smoother overrode the engine by a large amount
    smooth_flags: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class FarmSummary:
    shots: list[ShotOutcome]
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.shots)

    def lines(self) -> list[str]:
        out = []
        for s in self.shots:
            state = "complete" if s.complete else f"MISSING {format_frames(s.missing)}"
            out.append(
                f"vfxmatte: shot={s.name} frames={len(s.frames)} written={len(s.written)} "
                f"kept={len(s.skipped - s.written)} {state}"
            )
            out += [f"vfxmatte:   {s.name}: {e}" for e in s.errors]
            if s.smooth_flags:
                where = " ".join(
                    f"{f}({','.join(f'{n}:{v:.3f}' for n, v in layers.items())})"
                    for f, layers in sorted(s.smooth_flags.items())
                )
                out.append(
                    f"vfxmatte:   {s.name}: smoother overrode the engine by a large amount on "
                    f"{len(s.smooth_flags)} frame(s), check them: {where}"
                )
        total = sum(len(s.frames) for s in self.shots)
        out.append(
            f"vfxmatte: farm job {'complete' if self.complete else 'INCOMPLETE'}: "
            f"{len(self.shots)} shot(s), {total} frame(s) in {self.seconds:.1f}s"
        )
        return out

    def raise_if_incomplete(self) -> None:
        """Raise the one-line error (exit 7) naming every shot's missing frames."""
        if self.complete:
            return
        parts = []
        for s in self.shots:
            if s.missing:
                why = f" ({s.errors[0]})" if s.errors else ""
                parts.append(f"{s.name} frames {format_frames(s.missing)}{why}")
        raise FarmIncompleteError(
            "farm job incomplete: "
            + "; ".join(parts)
            + "; resubmit the same command to finish only the missing frames"
        )


class FarmIncompleteError(VfxMatteError):
    exit_code = ExitCode.PARTIAL


def smooth_flags(out: str, frames: list[int]) -> dict[int, dict[str, float]]:
    """Read the written frames' headers: frame -> {layer: override} for each layer the smoother
    overrode by a large amount (``vfxmatte:smooth_override``). Frames missing or unreadable are
    left out (they are reported as missing elsewhere)."""
    import OpenImageIO as oiio  # the summary itself stays importable without OIIO

    seq = SequencePath(out)
    flagged: dict[int, dict[str, float]] = {}
    for frame in frames:
        path = Path(seq.path(frame))
        if not path.is_file():
            continue
        inp = oiio.ImageInput.open(str(path))
        if inp is None:
            continue
        try:
            overrides = parse_overrides(str(inp.spec().getattribute(OVERRIDE_ATTRIBUTE) or ""))
        finally:
            inp.close()
        large = {n: overrides[n] for n in large_overrides(overrides)}
        if large:
            flagged[frame] = large
    return flagged
