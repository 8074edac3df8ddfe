"""The one per-frame path on tensors: engine -> instance consistency -> temporal smoothing.

``vfxmatte run`` (through :class:`~vfxmatte.pipeline.Job`), ``vfxmatte eval``, ``vfxmatte bench``,
the service and the scripts all matte frames through :class:`FramePath`, so a number measured by
eval is a number of what run writes. Nothing here reads or writes files.

Temporal smoothing sits behind a narrow streaming interface (:class:`TemporalStream`): frames are
pushed in order and come out ``lag`` frames later, once the smoother has seen the neighbours it
needs (a bidirectional window over ``k`` frames either side: lag ``k``, lead-in ``k``). A result
stays a pure function of the frames in its window, so whole runs, farm chunks and resumed jobs
agree when they push the same window around each frame they write.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from vfxmatte.engines.base import Engine, EngineInput, EngineOutput
from vfxmatte.errors import BadArgumentError, EngineError, OutOfMemoryError
from vfxmatte.refine.consistency import enforce_instance_consistency

if TYPE_CHECKING:
    from vfxmatte.refine.temporal import Smoothed


@dataclass
class FrameResult:
    """One frame out of the path. ``tag`` is the caller's own payload (plate, mask states...),
    carried through the smoother's lag untouched."""

    frame: int
    alphas: np.ndarray  # (N, H, W) float32, consistent (and smoothed when smoothing is on)
    union: np.ndarray  # (H, W) float32
    tag: Any = None
    # the engine's; ``trimaps`` as (N, H, W) uint8 codes (0 background, 1 unknown, 2 foreground)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # engine, refine, smooth seconds


@dataclass
class Pending:
    """A frame waiting in the smoother: its image (H, W, 3), consistent alphas, and flags.

    Once pushed, a stream may drop ``rgb`` and ``result.alphas`` from the record it holds (the
    smoother keeps its own copies) and store ``result.union`` at half precision: the frame's
    layers are written as half floats, so that is all the precision the union needs.
    """

    result: FrameResult
    rgb: np.ndarray | None
    active: Sequence[bool] | None


# Held frames' plates and raw alphas are kept at half precision: a 4K frame the smoother holds
# costs about half (measured: tests/test_frame_storage.py bounds the written alphas' difference)
HELD_DTYPE = np.float16


class TemporalStream(Protocol):
    """Frames in, in order; smoothed frames out after ``lag`` more frames (or at :meth:`flush`)."""

    lag: int

    def push(self, item: Pending) -> list[Pending]:
        """Add the next frame; returns the frames now final (oldest first), alphas smoothed."""
        ...

    def flush(self) -> list[Pending]:
        """The frames still held (end of a shot or a break in continuity)."""
        ...


class WindowStream:
    """The bidirectional robust vote (:class:`vfxmatte.refine.temporal.WindowSmoother`): lag ``k``.

    Frame ``t`` depends on the raw alphas and plates of ``t - k .. t + k`` only (truncated where
    the pushed run of frames starts or ends), so a job that pushes the ``lead_in`` frames before
    the first frame it writes and the ``lag`` frames after the last one (resume, farm chunk)
    writes the same bytes as a whole run. Each final frame carries ``override`` (per instance,
    mean |smoothed - raw| over its support) and ``large`` flags in its diagnostics.
    """

    def __init__(self, strength: float, storage: type[np.floating] = HELD_DTYPE):
        from vfxmatte.refine.temporal import WindowSmoother  # OpenCV only when smoothing

        self._smoother = WindowSmoother(strength, storage=storage)
        self.lag = self.lead_in = self._smoother.window
        self._held: dict[int, Pending] = {}  # push position -> frame waiting for its window
        self._position = 0

    def push(self, item: Pending) -> list[Pending]:
        rgb, alphas = item.rgb, item.result.alphas
        # the held record keeps neither plate nor raw alphas (the smoother has its own, at
        # HELD_DTYPE; _finish gives the record the smoothed alphas) and a half-float union
        item.rgb = None
        item.result.alphas = np.zeros((0, 0, 0), np.float32)
        item.result.union = item.result.union.astype(HELD_DTYPE)
        self._held[self._position] = item
        done = self._smoother.push(self._position, rgb, alphas, item.active)
        self._position += 1
        return [self._finish(pos, smoothed) for pos, smoothed in done]

    def flush(self) -> list[Pending]:
        done = [self._finish(pos, smoothed) for pos, smoothed in self._smoother.flush()]
        self._held.clear()
        return done

    def _finish(self, position: int, smoothed: Smoothed) -> Pending:
        item = self._held.pop(position)
        item.result.alphas, item.result.union = _consistent_where_changed(
            smoothed, item.result.union
        )
        item.result.diagnostics = {
            **item.result.diagnostics,
            "smooth_override": [float(v) for v in smoothed.override],
            "smooth_large": [bool(v) for v in smoothed.large],
        }
        return item


def _consistent_where_changed(
    smoothed: Smoothed, raw_union: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Instance consistency of smoothed alphas and their union, checked only at the pixels the
    smoother may have changed: elsewhere the alphas are the raw ones, already consistent, and
    their union is the raw union (at 4K this is most of the smooth stage's saving)."""
    alphas = smoothed.alphas
    if smoothed.changed is None:
        return alphas, raw_union.astype(np.float32, copy=False)
    ys, xs = smoothed.changed
    fixed, union_at = enforce_instance_consistency(torch.from_numpy(alphas[:, ys, xs]))
    alphas[:, ys, xs] = fixed.numpy()
    union = raw_union.astype(np.float32)  # a copy, back at the caller's precision
    union[ys, xs] = union_at.numpy()
    return alphas, union


def _compact(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """The engine's diagnostics as a frame keeps them while it waits in the smoother: trimaps
    (0, 0.5, 1) as uint8 codes 0, 1, 2 on the host (a byte per pixel and person)."""
    trimaps = diagnostics.get("trimaps")
    if not isinstance(trimaps, torch.Tensor):
        return diagnostics
    codes = (trimaps * 2).to(torch.uint8).cpu().numpy()  # exact: 0, 1, 2 in any float
    return {**diagnostics, "trimaps": codes}


def make_stream(strength: float) -> TemporalStream | None:
    """The temporal stage for ``strength`` (None when 0: smoothing off)."""
    return WindowStream(strength) if strength > 0.0 else None


def run_engine(engine: Engine, inp: EngineInput) -> EngineOutput:
    """``engine.matte`` with one-line errors naming the frame and a checked, clamped result."""
    if inp.new_shot:
        engine.reset()
    try:
        with torch.inference_mode():
            out = engine.matte(inp)
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise OutOfMemoryError(
            f"out of memory on {engine.device} at frame {inp.frame}; try --device cpu, fewer "
            "people per job or a smaller tile size"
        ) from exc
    except (EngineError, BadArgumentError):
        raise
    except Exception as exc:  # an engine bug must still name the frame
        raise EngineError(
            f"engine '{engine.name}' failed on frame {inp.frame}: {type(exc).__name__}: {exc}"
        ) from exc
    expected = (len(inp.names), *inp.image.shape[-2:])
    if tuple(out.alphas.shape) != expected:
        raise EngineError(
            f"engine '{engine.name}' returned {tuple(out.alphas.shape)} at frame {inp.frame}, "
            f"expected {expected}"
        )
    out.alphas = out.alphas.clamp(0.0, 1.0)
    return out


class FramePath:
    """Frames pushed in order through engine -> consistency -> smoothing.

    ``push`` returns the frames that are final now (none while a lagging smoother waits for
    neighbours); ``flush`` returns the rest. A frame with ``inp.new_shot`` or ``joins=False``
    (a gap: the previous pushed frame is not its predecessor) first flushes the smoother, so
    temporal state never bridges a cut or a gap.
    """

    def __init__(self, engine: Engine, temporal_strength: float):
        self.engine = engine
        self.stream = make_stream(temporal_strength)

    @property
    def lag(self) -> int:
        return self.stream.lag if self.stream is not None else 0

    @property
    def lead_in(self) -> int:
        """Frames before a frame that its result depends on (pushed, not written, after a gap)."""
        return getattr(self.stream, "lead_in", 0) if self.stream is not None else 0

    def push(
        self,
        inp: EngineInput,
        active: Sequence[bool] | None = None,
        tag: Any = None,
        joins: bool = True,
        rgb: np.ndarray | None = None,
    ) -> list[FrameResult]:
        """Push one frame; ``rgb``: the same image as ``inp.image`` as an (H, W, 3) float32 array
        when the caller has one (the smoother keeps it: no copy back from the tensor)."""
        ready = self.flush() if (inp.new_shot or not joins) else []
        t0 = time.perf_counter()
        out = run_engine(self.engine, inp)
        if inp.image.device.type == "cuda":
            torch.cuda.synchronize(inp.image.device)
        t1 = time.perf_counter()
        alphas, union = enforce_instance_consistency(out.alphas, out.cores)
        result = FrameResult(
            frame=inp.frame,
            alphas=alphas.float().cpu().numpy(),
            union=union.float().cpu().numpy(),
            tag=tag,
            diagnostics=_compact(out.diagnostics),
            timings={"engine": t1 - t0, "refine": time.perf_counter() - t1},
        )
        if self.stream is None:
            return [*ready, result]
        t2 = time.perf_counter()
        if rgb is None:
            rgb = inp.image.permute(1, 2, 0).float().cpu().numpy()
        rgb = np.ascontiguousarray(rgb, np.float32)
        done = self.stream.push(Pending(result, rgb, active))
        result.timings["smooth"] = time.perf_counter() - t2
        return [*ready, *(p.result for p in done)]

    def flush(self) -> list[FrameResult]:
        if self.stream is None:
            return []
        t0 = time.perf_counter()
        done = [p.result for p in self.stream.flush()]
        share = (time.perf_counter() - t0) / max(1, len(done))  # the held frames' smoothing
        for result in done:
            result.timings["smooth"] = result.timings.get("smooth", 0.0) + share
        return done
