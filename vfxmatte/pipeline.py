"""A job over frames: read -> colour -> engine -> consistency -> smooth -> write, with events.

The pipeline never knows which engine it runs (it asks the registry) and never lets a user
mistake surface as a traceback: input problems are found before the first frame where possible
(missing frames, unknown colourspace, unwritable output) and otherwise raised as one-line
:class:`~vfxmatte.errors.VfxMatteError` naming the frame.

Video: frames without a mask are filled by keyframe propagation (vfxmatte.masks.propagation);
``preroll`` frames before the range are matted and smoothed but not written, so a farm chunk
starts with warm temporal state; smoothing state only carries between consecutive frames.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from vfxmatte import __version__
from vfxmatte.devices import resolve_device
from vfxmatte.engines import Engine, EngineInput, create_engine, validate_engine_options
from vfxmatte.errors import BadArgumentError, CancelledError, VfxMatteError
from vfxmatte.events import EventCallback, EventKind, ProgressEvent, ignore_events
from vfxmatte.flow import to_grey
from vfxmatte.frame import FramePath, FrameResult
from vfxmatte.io import cryptomatte
from vfxmatte.io.atomic import ensure_writable_dir, remove_stale_temps, remove_temps_of
from vfxmatte.io.colour import (
    ColourConverter,
    colorspace_of,
    config_name,
    encoding_colorspace,
    load_config,
    resolve_colorspace,
)
from vfxmatte.io.images import (
    ImageFrame,
    check_finite,
    exr_is_complete,
    normalise_compression,
    to_display_window,
    write_exr,
)
from vfxmatte.io.prefetch import ReadAhead, WriteBehind, io_depth, write_behind
from vfxmatte.jobspec import SPEC_ATTRIBUTE, JobSpec, spec_json
from vfxmatte.masks.propagation import PropagatedMasks, resolve_keyframes
from vfxmatte.masks.sources import IdMapMasks, MaskFrame, MaskSource, MaskState, PerInstanceMasks
from vfxmatte.plates import ImageSequencePlate, PlateSource, open_plate
from vfxmatte.preview import review_frame
from vfxmatte.refine.foreground import premultiplied_foreground
from vfxmatte.refine.temporal import (
    LARGE_ATTRIBUTE,
    OVERRIDE_ATTRIBUTE,
    format_overrides,
    large_overrides,
)
from vfxmatte.sequence import SequencePath, format_frames, parse_frames
from vfxmatte.validate import preflight


@dataclass
class JobResult:
    frames: list[int]
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return set(self.written) | set(self.skipped) == set(self.frames)


@dataclass
class MatteFrame:
    """What one frame produced: per-instance alphas (N, H, W) on the plate's data window."""

    frame: int
    plate: ImageFrame
    names: list[str]
    alphas: np.ndarray
    union: np.ndarray
    states: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # per instance: mean |smoothed - raw| over its support (empty when smoothing is off)
    overrides: dict[str, float] = field(default_factory=dict)


class Job:
    """A validated job ready to run. Construct it to validate; call :meth:`run` to process."""

    def __init__(self, spec: JobSpec, on_event: EventCallback = ignore_events):
        self.spec = spec
        self.on_event = on_event
        validate_engine_options(spec.engine, spec.engine_options)  # before any file is opened
        self.compression = normalise_compression(spec.compression)
        self.plate: PlateSource = open_plate(spec.plate, spec.start_frame)
        self.frames = self._resolve_frames()
        self.plate.check_frames(self.frames)
        self.preroll_frames, self.preroll_note = self._resolve_preroll()
        self.out = SequencePath(spec.out)
        if len(self.frames) > 1 and not self.out.is_sequence:
            raise BadArgumentError(
                f"--out {spec.out} has no frame padding (#### or %04d) but {len(self.frames)} "
                "frames are requested"
            )
        if Path(spec.out).suffix.lower() != ".exr":
            raise BadArgumentError(f"--out {spec.out}: mattes are written as EXR; end it in .exr")
        if spec.preview and Path(spec.preview).suffix.lower() != ".mov":
            raise BadArgumentError(
                f"--preview {spec.preview}: the review movie is ProRes 4444; end it in .mov"
            )
        self.config = load_config(spec.ocio_config)
        self.user_colorspace = (
            resolve_colorspace(self.config, spec.colorspace) if spec.colorspace else None
        )
        # spec.threads is applied by the CLI entry (run/bench), never here: a Job also runs
        # inside the service and the review panel, whose thread pools are theirs to set.
        self.device = resolve_device(spec.device)
        self.engine: Engine = create_engine(spec.engine, self.device, spec.engine_options)
        self.engine_colorspace = encoding_colorspace(self.config, self.engine.input_encoding)
        self.clean_plate = (
            open_plate(spec.clean_plate, spec.start_frame) if spec.clean_plate else None
        )
        self._converters: dict[str, ColourConverter] = {}
        self.masks: MaskSource = self._open_masks()
        self.path = FramePath(self.engine, spec.temporal_strength)
        self._last_pushed: int | None = None
        self._to_write: set[int] = set()  # pushed to be written, not yet written
        self._step = self.frames[1] - self.frames[0] if len(self.frames) > 1 else 1
        self.frame_timings: dict[int, dict[str, float]] = {}  # seconds per stage, written frames
        self._reads: ReadAhead | None = None  # plate read-ahead, while run() runs
        self._writes: WriteBehind | None = None  # write-behind, while run() runs
        self.notes = preflight(self)  # hardening (issue 17): refused before frame 1, or warned

    # -- validation -------------------------------------------------------------------------
    def _resolve_frames(self) -> list[int]:
        if self.spec.frames:
            return parse_frames(self.spec.frames)
        frames = self.plate.frames_on_disk()
        if not frames:
            raise BadArgumentError(
                f"no plate frames found for {self.spec.plate}; check the path or give --frames"
            )
        return frames

    def _resolve_preroll(self) -> tuple[list[int], str]:
        """The pre-roll frames that exist just before the range, and a note if some do not.

        Pre-roll steps like the range (1001-1100x2 pre-rolls 999, 997, ...). Only the unbroken
        run of existing frames next to the range is used: temporal state must not bridge a gap.
        """
        want = self.spec.preroll
        if not want:
            return [], ""
        step = self.frames[1] - self.frames[0] if len(self.frames) > 1 else 1
        first = self.frames[0]
        wanted = [first - step * k for k in range(want, 0, -1)]
        found: list[int] = []
        for f in reversed(wanted):
            if not self.plate.exists(f):
                break
            found.insert(0, f)
        if len(found) == want:
            return found, ""
        have = f"uses {format_frames(found)}" if found else "starts cold"
        return found, (
            f"pre-roll: {want - len(found)} of {want} frame(s) before {first} "
            f"({format_frames(wanted[: want - len(found)])}) do not exist; {have}"
        )

    def _shot_frames(self) -> list[int]:
        """Every plate frame propagation may walk through: the shot on disk and the job's frames."""
        return sorted(
            set(self.plate.frames_on_disk()) | set(self.frames) | set(self.preroll_frames)
        )

    def _open_masks(self) -> MaskSource:
        """The mask source; wrapped in keyframe propagation when some frame lacks a mask."""
        needed = [*self.preroll_frames, *self.frames]
        shot = self._shot_frames()
        if self.spec.id_map:
            source: MaskSource = IdMapMasks(self.spec.id_map, self.spec.ids)
            with_file = source.frames_available(needed) or source.frames_available(
                self.spec.keyframes or shot
            )
            source.discover_ids(with_file or needed)
        else:
            source = PerInstanceMasks(self.spec.masks)
        keyframes = resolve_keyframes(source, shot, self.spec.keyframes)
        if isinstance(source, PerInstanceMasks):
            # A person whose keyframes inside the range are all empty is a broken export; one
            # with no keyframe in the range is propagated from outside it instead.
            keyed = [n for n in source.names if set(keyframes[n]) & set(self.frames)]
            in_range = sorted(set(self.frames) & set().union(*keyframes.values()))
            source.check_not_all_empty(in_range, names=keyed)
        if all(set(needed) <= set(keys) for keys in keyframes.values()):
            return source  # a mask on every frame: nothing to propagate
        return PropagatedMasks(source, keyframes, shot, self._grey_for_flow)

    def _grey_for_flow(self, frame: int) -> np.ndarray:
        """The plate frame as the engine sees it, in grey at flow resolution (for propagation)."""
        plate = self.plate.read(frame)
        return to_grey(self._converter(plate).apply(plate.rgb()))

    # -- per-frame work ---------------------------------------------------------------------
    def _converter(self, plate: ImageFrame) -> ColourConverter:
        source = colorspace_of(self.config, plate, self.user_colorspace)
        if source not in self._converters:
            self._converters[source] = ColourConverter(self.config, source, self.engine_colorspace)
        return self._converters[source]

    def _colour_note(self) -> str:
        """The plate colourspace and OCIO config the run uses, for its start line: the named
        one, else what the first frame's metadata or bit depth gives."""
        colorspace = self.user_colorspace
        if colorspace is None:
            try:
                colorspace = self._converter(self.plate.read(self.frames[0])).source
            except VfxMatteError:
                colorspace = "unknown"  # the frame loop reports the unreadable frame
        config = config_name(self.spec.ocio_config, self.config)
        return f"colorspace='{colorspace}' ocio_config={config}"

    def _load_plate(self, frame: int) -> tuple[ImageFrame, np.ndarray, dict[str, float]]:
        """Plate frame, its pixels in the engine's encoding, and the seconds each took (run in
        the read-ahead thread during :meth:`run`)."""
        t0 = time.perf_counter()
        plate = self.plate.read(frame)
        check_finite(plate, f"plate frame {frame}")
        t1 = time.perf_counter()
        converter = self._converter(plate)
        rgb = plate.rgb()
        if not (self.spec.write_colour or self.spec.preview):
            # the frame waits (read ahead, for a lagging smoother, for its write) without its
            # plate pixels, which only colour layers and the preview use, and is converted in
            # place: two 4K buffers less while it waits
            plate = replace(plate, pixels=plate.pixels[:0, :0].copy())  # a view would keep them
            rgb = converter.apply(rgb, in_place=True)
        else:
            rgb = converter.apply(rgb)
        return plate, rgb, {"read": t1 - t0, "colour": time.perf_counter() - t1}

    def _to_tensor(self, rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).to(self.device)

    def push_frame(self, frame: int, new_shot: bool = False) -> list[MatteFrame]:
        """Read, convert and push one frame through the per-frame path (no writing).

        Returns the frames that are final now, oldest first: none while a lagging temporal
        smoother waits for later frames (see :meth:`flush_frames`).
        """
        clock = _StageClock()
        t0 = time.perf_counter()
        plate, rgb, io_laps = self._reads.get(frame) if self._reads else self._load_plate(frame)
        waited = time.perf_counter() - t0  # stages are their own cost, wherever they ran
        mask_frame: MaskFrame = self.masks.load(frame, plate.data_window, plate.display_window)
        clock.lap("read")
        clock.laps["read"] += io_laps["read"] - waited
        clean = None
        if self.clean_plate is not None:
            clean_img = self.clean_plate.read(frame if self.clean_plate.exists(frame) else 0)
            clean = self._to_tensor(self._converter(clean_img).apply(clean_img.rgb()))
        inp = EngineInput(
            image=self._to_tensor(rgb),
            masks=torch.from_numpy(mask_frame.masks).to(self.device),
            names=mask_frame.names,
            frame=frame,
            clean_plate=clean,
            new_shot=new_shot,
        )
        clock.lap("colour")
        clock.laps["colour"] += io_laps["colour"]
        active = [
            mask_frame.states.get(n) in (MaskState.OK, MaskState.PROPAGATED)
            for n in mask_frame.names
        ]
        joins = self._last_pushed is not None and frame - self._step == self._last_pushed
        self._last_pushed = frame
        # the frame waits for its write without its masks (only their names and states)
        tag = (plate, replace(mask_frame, masks=mask_frame.masks[:0].copy()), clock.laps)
        return [self._as_matte(r) for r in self.path.push(inp, active, tag, joins, rgb)]

    def flush_frames(self) -> list[MatteFrame]:
        """The frames a lagging smoother still holds (end of the range or before a gap)."""
        self._last_pushed = None
        return [self._as_matte(r) for r in self.path.flush()]

    @staticmethod
    def _as_matte(result: FrameResult) -> MatteFrame:
        plate, mask_frame, laps = result.tag
        return MatteFrame(
            frame=result.frame,
            plate=plate,
            names=mask_frame.names,
            alphas=result.alphas,
            union=result.union,
            states={k: str(v) for k, v in mask_frame.states.items()},
            timings={**laps, **result.timings},
            overrides=dict(
                zip(mask_frame.names, result.diagnostics.get("smooth_override", []), strict=False)
            ),
        )

    def output_channels(self, names: list[str]) -> list[str]:
        channels = ["A"] + [f"{n}.A" for n in names]
        if self.spec.write_colour:
            channels += [f"{n}.{c}" for n in names for c in "RGB"]
        if self.spec.cryptomatte:
            channels += cryptomatte.channel_names(len(names))
        return channels

    def write_frame(self, result: MatteFrame) -> Path:
        """Write one frame's layers atomically; returns the path."""
        plate = result.plate
        channels: dict[str, np.ndarray] = {"A": result.union}
        for i, name in enumerate(result.names):
            channels[f"{name}.A"] = result.alphas[i]
        if self.spec.write_colour:
            rgb = plate.rgb()
            for i, name in enumerate(result.names):
                premult = premultiplied_foreground(rgb, result.alphas[i], self.device)
                for c, ch in enumerate("RGB"):
                    channels[f"{name}.{ch}"] = premult[..., c]
        crypto = cryptomatte.encode(result.alphas, result.names) if self.spec.cryptomatte else {}
        channels |= crypto
        data_window = plate.data_window
        if self.spec.full_frame and plate.data_window != plate.display_window:
            channels = {
                k: to_display_window(v, plate.data_window, plate.display_window)
                for k, v in channels.items()
            }
            data_window = plate.display_window
        path = self.out.path(result.frame)
        write_exr(
            path,
            channels,
            data_window,
            plate.display_window,
            metadata=plate.metadata,
            extra_attributes={
                "vfxmatte:version": __version__,
                "vfxmatte:engine": self.spec.engine,
                "vfxmatte:colorspace": colorspace_of(self.config, plate, self.user_colorspace),
                "vfxmatte:ocio_config": config_name(self.spec.ocio_config, self.config),
                "vfxmatte:instances": ",".join(result.names),
                "vfxmatte:mask_states": ",".join(f"{k}={v}" for k, v in result.states.items()),
                "vfxmatte:frame": str(result.frame),
                OVERRIDE_ATTRIBUTE: format_overrides(result.overrides),
                LARGE_ATTRIBUTE: ",".join(large_overrides(result.overrides)),
                "vfxmatte:plate": _absolute(self.spec.plate),
                "vfxmatte:masks": json.dumps({k: _absolute(v) for k, v in self.spec.masks.items()}),
                "vfxmatte:id_map": _absolute(self.spec.id_map) if self.spec.id_map else "",
                SPEC_ATTRIBUTE: spec_json(self.resolved_spec(plate)),
            }
            | (cryptomatte.header(result.names) if crypto else {}),
            compression=self.compression,
            float_channels=crypto.keys(),
        )
        return path

    def resolved_spec(self, plate: ImageFrame) -> JobSpec:
        """The spec as this frame was made: absolute paths and the colourspace actually used,
        so ``vfxmatte run --job <this exr>`` replays it from anywhere."""
        spec = self.spec
        return spec.model_copy(
            update={
                "plate": _absolute(spec.plate),
                "out": _absolute(spec.out),
                "masks": {k: _absolute(v) for k, v in spec.masks.items()},
                "id_map": _absolute(spec.id_map) if spec.id_map else None,
                "clean_plate": _absolute(spec.clean_plate) if spec.clean_plate else None,
                "preview": _absolute(spec.preview) if spec.preview else None,
                "colorspace": colorspace_of(self.config, plate, self.user_colorspace),
                "engine_options": self.engine.resolved_options(),
            }
        )

    # -- the loop ---------------------------------------------------------------------------
    def run(self, should_stop: Callable[[], bool] = lambda: False) -> JobResult:
        result = JobResult(frames=list(self.frames))
        started = time.time()
        out_dir = self.out.path(self.frames[0]).parent
        ensure_writable_dir(out_dir)
        remove_stale_temps(out_dir)
        total = len(self.frames)
        self.on_event(
            ProgressEvent(
                EventKind.START,
                total=total,
                message=f"engine={self.spec.engine} device={self.device} "
                f"threads={torch.get_num_threads()} {self._colour_note()}",
            )
        )
        required = self.output_channels(self.masks.names)
        first = True
        for note in self.notes:
            result.warnings.append(note)
            self.on_event(ProgressEvent(EventKind.WARNING, self.frames[0], message=note))
        if self.preroll_note:
            result.warnings.append(self.preroll_note)
            self.on_event(
                ProgressEvent(EventKind.WARNING, self.frames[0], message=self.preroll_note)
            )
        preview = _PreviewSink(self.spec.preview, getattr(self.plate, "fps", 24.0))
        first = self._push_unwritten(self.preroll_frames, first, should_stop, result, preview)
        # read-ahead and write-behind (vfxmatte.io.prefetch): decode, colour and encode overlap
        # the engine; image sequences only (a movie decodes through one ffmpeg pipe)
        depth = io_depth() if isinstance(self.plate, ImageSequencePlate) else 0
        wanted = {*self.preroll_frames, *self.frames}
        ahead = lambda f: f in wanted and self.plate.exists(f)  # noqa: E731
        self._reads = ReadAhead(self._load_plate, ahead, self._step, depth)
        try:
            with write_behind(io_depth()) as self._writes:
                try:
                    self._loop(result, required, first, should_stop, preview)
                except VfxMatteError as exc:
                    if not isinstance(exc, CancelledError):
                        self._write_held(result, preview)
                    raise
        except BaseException:
            preview.abort()
            raise
        finally:
            self._reads.close()
            self._reads = self._writes = None
        preview.close()
        if result.complete:  # temps of our frames left by a killed earlier run
            remove_temps_of([self.out.path(f) for f in self.frames], started)
        self.on_event(
            ProgressEvent(
                EventKind.DONE,
                done=total,
                total=total,
                message=f"written={len(result.written)} skipped={len(result.skipped)}",
            )
        )
        return result

    def _loop(
        self,
        result: JobResult,
        required: list[str],
        first: bool,
        should_stop: Callable[[], bool],
        preview: _PreviewSink,
    ) -> None:
        """Every requested frame not kept from an earlier run is matted and written.

        Determinism: a frame's result depends only on the plate and mask frames of its temporal
        window (``lead_in`` frames before it, ``lag`` after), so around every run of frames this
        job writes, the window frames that exist on disk are matted too and not written: the
        lead-in before a frame whose predecessor was not just processed (the start of a job, a
        resume after kept frames, a farm chunk) and the look-ahead after the last frame before a
        break. A short break of existing frames (kept frames) is bridged instead: its frames are
        matted, not written, and the stream goes on (the same windows, less work).
        """
        last = self.preroll_frames[-1] if self.preroll_frames else None
        owed = False  # a written frame still waits for its look-ahead
        for frame in self.frames:
            if should_stop():
                raise CancelledError(f"cancelled before frame {frame}")
            path = self.out.path(frame)
            if self.spec.skip_existing and exr_is_complete(path, required):
                done = len(result.written) + len(result.skipped)
                result.skipped.append(frame)
                self.on_event(
                    ProgressEvent(EventKind.SKIP, frame, done + 1, len(self.frames), path=str(path))
                )
                preview.add_written(self, frame, path)
                continue
            if last != frame - self._step:
                extra = self._bridge(last, frame)
                if extra is None:
                    if owed and last is not None:
                        self._push_unwritten(self._look_ahead(last), first, should_stop,
                                             result, preview, "look-ahead", last)  # fmt: skip
                    self._deliver(self.flush_frames(), result, preview)  # no state over a gap
                    first, owed = True, False
                    extra = self._lead_in_frames(frame)
                first = self._push_unwritten(extra, first, should_stop, result, preview,
                                             "lead-in", frame)  # fmt: skip
            self._to_write.add(frame)
            self._deliver(self.push_frame(frame, new_shot=first), result, preview)
            first, owed, last = False, True, frame
        if owed and last is not None:
            self._push_unwritten(self._look_ahead(last), first, should_stop, result, preview,
                                 "look-ahead", last)  # fmt: skip
        self._write_remaining(result, preview)

    def _write_remaining(self, result: JobResult, preview: _PreviewSink) -> None:
        """Write the frames the smoother still holds and wait for every queued write."""
        self._deliver(self.flush_frames(), result, preview)
        self._written(self._writes.drain(wait=True), result, preview)

    def _write_held(self, result: JobResult, preview: _PreviewSink) -> None:
        """After a bad input frame, the frames the smoother still holds are written as if the
        shot ended just before it (their windows stop there), so the frames before a bad frame
        are on disk, as they would be without smoothing; a resubmission after the input is fixed
        computes only the frames that are missing."""
        try:
            self._write_remaining(result, preview)
        except VfxMatteError:
            pass  # the first error is the one to report

    def _push_unwritten(
        self,
        frames: list[int],
        first: bool,
        should_stop: Callable[[], bool],
        result: JobResult,
        preview: _PreviewSink,
        role: str | None = None,
        anchor: int | None = None,
    ) -> bool:
        """Matte frames this job does not write: the chunk's pre-roll (``role`` None) or the
        smoother's ``role`` frames (lead-in, bridge, look-ahead) around ``anchor``. Each is
        pushed through the per-frame path (frames of the range that a push finishes are
        written) with a PREROLL event. Returns whether the next push starts a shot."""
        for i, extra in enumerate(frames):
            if should_stop():
                raise CancelledError(
                    f"cancelled in the temporal {role} of frame {anchor}"
                    if role
                    else f"cancelled in pre-roll before frame {extra}"
                )
            t0 = time.perf_counter()
            self._deliver(self.push_frame(extra, new_shot=first), result, preview)
            first = False
            what = f"temporal {role} for {anchor}" if role else f"pre-roll {i + 1}/{len(frames)}"
            self.on_event(
                ProgressEvent(
                    EventKind.PREROLL,
                    extra,
                    0,
                    len(self.frames),
                    seconds=time.perf_counter() - t0,
                    message=f"{what}, not written",
                )
            )
        return first

    def _lead_in_frames(self, frame: int) -> list[int]:
        """The unbroken run of existing plate frames just before ``frame`` on the job's step
        grid, at most the smoother's lead-in (the same rule for whole runs, resumes, chunks)."""
        found: list[int] = []
        for k in range(1, self.path.lead_in + 1):
            prev = frame - k * self._step
            if not self.plate.exists(prev):
                break
            found.insert(0, prev)
        return found

    def _look_ahead(self, frame: int) -> list[int]:
        """The unbroken run of existing plate frames just after ``frame`` on the step grid, at
        most the smoother's lag: the later half of the last written frame's window."""
        found: list[int] = []
        for k in range(1, self.path.lag + 1):
            nxt = frame + k * self._step
            if not self.plate.exists(nxt):
                break
            found.append(nxt)
        return found

    def _bridge(self, last: int | None, frame: int) -> list[int] | None:
        """The frames between ``last`` and ``frame`` on the step grid when all exist and they
        are no more than a look-ahead plus a lead-in (else None: flush, then lead in)."""
        if last is None or (frame - last) % self._step or frame <= last:
            return None
        between = list(range(last + self._step, frame, self._step))
        if len(between) > self.path.lag + self.path.lead_in or not all(
            self.plate.exists(f) for f in between
        ):
            return None
        return between

    def _deliver(self, mattes: list[MatteFrame], result: JobResult, preview: _PreviewSink) -> None:
        """Write the frames the per-frame path has finished (pre-roll frames are dropped)."""
        for matte in mattes:
            if matte.frame not in self._to_write:
                continue  # pre-roll, lead-in, look-ahead, or a later recomputation of a frame
            self._to_write.discard(matte.frame)
            self._report_mask_states(matte, result)
            self._writes.submit(self.write_frame, matte)
            self._written(self._writes.drain(), result, preview)

    def _written(self, done, result: JobResult, preview: _PreviewSink) -> None:
        """Book frames whose write finished: timings, preview, result, progress event."""
        for matte, path, seconds in done:
            matte.timings["write"] = seconds
            self.frame_timings[matte.frame] = matte.timings
            preview.add(self, matte)
            result.written.append(matte.frame)
            done = len(result.written) + len(result.skipped)
            self.on_event(
                ProgressEvent(
                    EventKind.FRAME,
                    matte.frame,
                    done,
                    len(self.frames),
                    seconds=sum(matte.timings.values()),
                    path=str(path),
                    states=matte.states,
                    message=_override_note(matte.overrides),
                )
            )

    def _report_mask_states(self, matte: MatteFrame, result: JobResult) -> None:
        for name, state in matte.states.items():
            if state not in (MaskState.OK, MaskState.PROPAGATED):
                msg = f"frame {matte.frame}: mask of {name} is {state}; its layer is empty"
                result.warnings.append(msg)
                self.on_event(ProgressEvent(EventKind.WARNING, matte.frame, message=msg))


class _PreviewSink:
    """Feeds written frames to a ProRes review movie when ``--preview`` is given (else no-op)."""

    def __init__(self, path: str | None, fps: float):
        self.path, self.fps = path, fps
        self.writer = None

    def add(self, job: Job, matte: MatteFrame) -> None:
        if not self.path:
            return
        rgb = job._converter(matte.plate).apply(matte.plate.rgb())
        frame = review_frame(rgb, matte.alphas, matte.names, f"{matte.frame}")
        if self.writer is None:
            from vfxmatte.io.movie import ProResPreviewWriter

            self.writer = ProResPreviewWriter(self.path, frame.shape[1], frame.shape[0], self.fps)
        self.writer.write(frame)

    def add_written(self, job: Job, frame: int, path: Path) -> None:
        """A frame kept from an earlier run: its layers are read back from the EXR."""
        if not self.path:
            return
        from vfxmatte.io.images import read_image

        plate = job.plate.read(frame)
        exr = read_image(path, f"matte frame {frame}")
        names = list(job.masks.names)
        alphas = np.stack([exr.channel(f"{n}.A") for n in names]) if names else np.zeros((0,))
        self.add(job, MatteFrame(frame, plate, names, alphas, exr.channel("A"), {}))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


class _StageClock:
    """Accumulates wall time per pipeline stage (read, colour, engine, refine, smooth, write)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = self.laps.get(stage, 0.0) + now - self._t
        self._t = now


def _override_note(overrides: dict[str, float]) -> str:
    """The progress line's word on the smoother: how far it moved each layer, and which layers
    it overrode by a large amount (a compositor should look at those frames)."""
    if not overrides:
        return ""
    large = large_overrides(overrides)
    note = f"smooth_override {format_overrides(overrides)}"
    return f"{note} LARGE {','.join(large)}" if large else note


def _absolute(pattern: str) -> str:
    """Absolute form of a sequence pattern, so results opened elsewhere still find their inputs."""
    return str(Path(pattern).expanduser().absolute())


def run_job(spec: JobSpec, on_event: EventCallback = ignore_events) -> JobResult:
    """Validate and run a job; raises VfxMatteError subclasses for user-facing problems."""
    return Job(spec, on_event).run()
