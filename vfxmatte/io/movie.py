"""Movies in and out through ffmpeg-python: MOV/MP4 plates, ProRes 4444 review movies.

A movie plate is a :class:`~vfxmatte.plates.PlateSource` whose frames are numbered from
``start_frame`` (1001 by default, as a conformed plate would be). Frames are decoded in order
through one ffmpeg pipe (the pipeline reads sequentially); a request behind the decoder restarts
it. 10/12-bit sources are decoded to 16-bit RGB so their code values survive.
"""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

from vfxmatte.errors import BadArgumentError, InvalidInputError, MissingInputError, OutputError
from vfxmatte.io.atomic import ensure_writable_dir, temp_path_for
from vfxmatte.io.images import ImageFrame, Window

MOVIE_SUFFIXES = (".mov", ".mp4", ".m4v", ".mkv", ".avi", ".mxf", ".webm")


def is_movie(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MOVIE_SUFFIXES


def _last_line(err: bytes | None) -> str:
    lines = [ln.strip() for ln in (err or b"").decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no details"


class MoviePlate:
    """A movie file as a plate: frames ``start_frame .. start_frame + count - 1``."""

    def __init__(self, path: str | Path, start_frame: int = 1001):
        self._proc: subprocess.Popen | None = None
        self.path = Path(path)
        self.start_frame = int(start_frame)
        self.description = f"{self.path} (movie, first frame {self.start_frame})"
        if not self.path.is_file():
            raise MissingInputError(f"movie plate {self.path} does not exist; check --plate")
        try:
            info = ffmpeg.probe(str(self.path), count_frames=None, select_streams="v:0")
        except ffmpeg.Error as exc:
            raise InvalidInputError(
                f"movie plate {self.path} cannot be decoded by ffmpeg "
                f"({_last_line(exc.stderr).replace(f'{self.path}: ', '')}); "
                "check the file or convert it to an image sequence"
            ) from exc
        streams = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
        if not streams:
            raise InvalidInputError(f"movie plate {self.path} has no video stream; check the file")
        stream = streams[0]
        self.width, self.height = int(stream["width"]), int(stream["height"])
        count = stream.get("nb_read_frames") or stream.get("nb_frames")
        if not count or int(count) <= 0:
            raise InvalidInputError(
                f"movie plate {self.path}: ffmpeg decoded no frames; the file is damaged or empty"
            )
        self.count = int(count)
        self.fps = float(Fraction(stream.get("avg_frame_rate") or stream.get("r_frame_rate")))
        pix_fmt = stream.get("pix_fmt", "")
        self.deep = any(tag in pix_fmt for tag in ("10", "12", "16"))
        self._pix_fmt = "rgb48le" if self.deep else "rgb24"
        self._frame_bytes = self.width * self.height * 3 * (2 if self.deep else 1)
        self._next = 0

    # -- PlateSource interface (duck-typed so vfxmatte.io never imports vfxmatte.plates) -------
    def frames_on_disk(self) -> list[int]:
        return list(range(self.start_frame, self.start_frame + self.count))

    def exists(self, frame: int) -> bool:
        return self.start_frame <= frame < self.start_frame + self.count

    def check_frames(self, frames: list[int]) -> None:
        outside = [f for f in frames if not self.exists(f)]
        if outside:
            last = self.start_frame + self.count - 1
            raise MissingInputError(
                f"frame(s) {outside[0]}{'...' if len(outside) > 1 else ''} outside movie plate "
                f"{self.path} (frames {self.start_frame}-{last}); check --frames or --start-frame"
            )

    def read(self, frame: int) -> ImageFrame:
        if not self.exists(frame):
            self.check_frames([frame])
        index = frame - self.start_frame
        if self._proc is None or index < self._next:
            self._start()
        assert self._proc is not None and self._proc.stdout is not None
        while self._next <= index:
            data = self._proc.stdout.read(self._frame_bytes)
            if len(data) < self._frame_bytes:
                self.close()
                raise InvalidInputError(
                    f"movie plate {self.path}: frame {frame} (index {index}) could not be decoded;"
                    " the file is truncated or damaged"
                )
            self._next += 1
        dtype = np.uint16 if self.deep else np.uint8
        pixels = np.frombuffer(data, dtype).reshape(self.height, self.width, 3)
        pixels = pixels.astype(np.float32) / float(np.iinfo(dtype).max)
        window = Window(0, 0, self.width, self.height)
        return ImageFrame(
            path=self.path,
            pixels=pixels,
            channels=["R", "G", "B"],
            data_window=window,
            display_window=window,
            pixel_format="uint16" if self.deep else "uint8",
            bits_per_sample=16 if self.deep else 8,
            metadata=[("vfxmatte:source_frame_index", "int", index)],
        )

    def _start(self) -> None:
        self.close()
        self._proc = (
            ffmpeg.input(str(self.path))
            .output("pipe:", format="rawvideo", pix_fmt=self._pix_fmt, fps_mode="passthrough")
            .global_args("-nostdin", "-loglevel", "error")
            .run_async(pipe_stdout=True, pipe_stderr=subprocess.DEVNULL)
        )
        self._next = 0

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __del__(self) -> None:
        self.close()


class ProResPreviewWriter:
    """Writes an RGBA review movie as ProRes 4444 (10-bit 4:4:4 with alpha), atomically.

    Frames go to a hidden temp file beside the target; :meth:`close` renames it into place, so a
    killed job never leaves a half-written movie under the final name.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 24.0):
        self.path = Path(path)
        if self.path.suffix.lower() != ".mov":
            raise BadArgumentError(f"--preview {self.path}: ProRes previews are .mov files")
        ensure_writable_dir(self.path.parent)
        self.width, self.height = width, height
        self.tmp = temp_path_for(self.path)
        self.frames = 0
        self._proc = (
            ffmpeg.input(
                "pipe:", format="rawvideo", pix_fmt="rgba64le", s=f"{width}x{height}", r=fps
            )
            .output(
                str(self.tmp),
                vcodec="prores_ks",
                pix_fmt="yuva444p10le",
                **{"profile:v": "4444", "vendor": "apl0"},
            )
            .global_args("-nostdin", "-loglevel", "error")
            .overwrite_output()
            .run_async(pipe_stdin=True, pipe_stderr=True)
        )

    def write(self, rgba: np.ndarray) -> None:
        """Append one (height, width, 4) float frame in [0, 1] (display-referred RGB + alpha)."""
        if rgba.shape != (self.height, self.width, 4):
            raise ValueError(f"preview frame {rgba.shape} != {(self.height, self.width, 4)}")
        data = (np.clip(rgba, 0.0, 1.0) * 65535.0 + 0.5).astype("<u2").tobytes()
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError as exc:
            err = self._proc.stderr.read() if self._proc.stderr else b""
            self.abort()
            raise OutputError(f"cannot write preview {self.path}: {_last_line(err)}") from exc
        self.frames += 1

    def close(self) -> Path:
        """Finish the movie and move it into place."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        err = self._proc.stderr.read() if self._proc.stderr else b""
        if self._proc.wait() != 0:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write preview {self.path}: {_last_line(err)}")
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.tmp.unlink(missing_ok=True)
