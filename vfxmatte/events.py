"""Progress events: one stream for the terminal, farm logs, the service and the review panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    START = "start"  # job validated, about to process `total` frames
    FRAME = "frame"  # one frame written
    SKIP = "skip"  # frame already complete on disk (--skip-existing)
    PREROLL = "preroll"  # a pre-roll frame processed to warm temporal state, not written
    WARNING = "warning"  # e.g. an empty or missing mask on a frame
    DONE = "done"  # job finished


@dataclass
class ProgressEvent:
    kind: EventKind
    frame: int | None = None
    done: int = 0
    total: int = 0
    seconds: float = 0.0
    path: str = ""
    message: str = ""
    states: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = str(self.kind)
        return d

    def as_line(self) -> str:
        """One parseable ``key=value`` line for render-farm logs."""
        parts = [f"vfxmatte: event={self.kind}"]
        if self.frame is not None:
            parts.append(f"frame={self.frame}")
        if self.total:
            pct = 100.0 * self.done / self.total
            parts.append(f"done={self.done}/{self.total} progress={pct:.1f}%")
        if self.seconds:
            parts.append(f"seconds={self.seconds:.3f}")
        if self.states:
            parts.append("masks=" + ",".join(f"{k}:{v}" for k, v in self.states.items()))
        if self.timings:
            parts.append("timings=" + ",".join(f"{k}:{v:.3f}" for k, v in self.timings.items()))
        if self.path:
            parts.append(f"path={self.path}")
        if self.message:
            parts.append(f'message="{self.message}"')
        return " ".join(parts)


EventCallback = Callable[[ProgressEvent], None]


def ignore_events(_: ProgressEvent) -> None:
    """Default callback."""
