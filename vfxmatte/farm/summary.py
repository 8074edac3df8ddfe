"""What a farm run did, shot by shot, and the one-line verdict a farm wrapper keys on."""

from __future__ import annotations

from dataclasses import dataclass, field

from vfxmatte.errors import ExitCode, VfxMatteError
from vfxmatte.sequence import format_frames


@dataclass
class ShotOutcome:
    name: str
    frames: list[int]
    written: set[int] = field(default_factory=set)
    skipped: set[int] = field(default_factory=set)
    missing: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one per failed chunk
    temps_removed: int = 0

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
