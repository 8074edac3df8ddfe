"""Plate sources: where frames come from (image sequences here; movies in vfxmatte.io.movie)."""

from __future__ import annotations

from vfxmatte.errors import MissingInputError
from vfxmatte.io.images import ImageFrame, read_image
from vfxmatte.io.movie import MoviePlate, is_movie
from vfxmatte.sequence import SequencePath, format_frames


class PlateSource:
    """Interface every plate source implements."""

    description: str

    def frames_on_disk(self) -> list[int]:
        raise NotImplementedError

    def exists(self, frame: int) -> bool:
        raise NotImplementedError

    def read(self, frame: int) -> ImageFrame:
        raise NotImplementedError

    def check_frames(self, frames: list[int]) -> None:
        missing = [f for f in frames if not self.exists(f)]
        if missing:
            raise MissingInputError(
                f"plate frame(s) {format_frames(missing)} missing for {self.description}; "
                "check --frames or render the missing frames"
            )


class ImageSequencePlate(PlateSource):
    """Any OIIO-readable image sequence (EXR, DPX, TIFF, PNG, JPEG...)."""

    def __init__(self, pattern: str):
        self.path = SequencePath(pattern)
        self.description = pattern

    def frames_on_disk(self) -> list[int]:
        if not self.path.is_sequence:
            return [0] if self.path.path(0).exists() else []
        return self.path.frames_on_disk()

    def exists(self, frame: int) -> bool:
        return self.path.path(frame).is_file()

    def read(self, frame: int) -> ImageFrame:
        return read_image(self.path.path(frame), f"plate frame {frame}", colour=True)


class MoviePlateSource(MoviePlate, PlateSource):
    """A MOV/MP4/... plate decoded by ffmpeg; frames numbered from ``start_frame``."""


def open_plate(pattern: str, start_frame: int = 1001) -> PlateSource:
    """Pick the plate source for a path: a movie file (by extension) or an image sequence.

    start_frame: the number of a movie's first frame (image sequences keep their own numbers).
    """
    if is_movie(pattern):
        return MoviePlateSource(pattern, start_frame)
    return ImageSequencePlate(pattern)
