"""Confine every path a request names to the folders the service was told to serve.

A request is untrusted text: it may name ``../../etc``, an absolute path outside the roots, or a
file inside a root that is a symlink to somewhere else. Each is refused by resolving real paths
(symlinks followed) of the folder and of every frame file and checking they stay under a root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath

from vfxmatte.errors import BadArgumentError
from vfxmatte.sequence import SequencePath


class PathNotAllowedError(BadArgumentError):
    """A path outside every allowed root (HTTP 403)."""


def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(path))


def _is_under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class PathPolicy:
    """The allowed roots, resolved once (a root that is itself a symlink is followed)."""

    def __init__(self, roots: Iterable[str | os.PathLike]):
        self.roots = [_real(r) for r in roots]

    def describe(self) -> list[str]:
        return [str(r) for r in self.roots]

    @staticmethod
    def _check_text(pattern: str, what: str) -> PurePath:
        if not pattern or "\x00" in pattern:
            raise BadArgumentError(f"{what}: empty or invalid path")
        pure = PurePath(pattern)
        if ".." in pure.parts:
            raise PathNotAllowedError(f"{what} {pattern}: '..' is not allowed in service paths")
        return pure

    def _allowed(self, path: Path, roots: list[Path]) -> bool:
        return any(_is_under(path, r) for r in roots)

    def confine_pattern(self, pattern: str, what: str, base: Path | None = None) -> str:
        """Check an input or output pattern's folder; return the pattern with its folder resolved.

        With ``base`` (an upload folder) the pattern must be relative and stays inside ``base``;
        otherwise it must be absolute and under one of the roots.
        """
        pure = self._check_text(pattern, what)
        if base is not None:
            if pure.is_absolute():
                raise PathNotAllowedError(f"{what} {pattern}: use names relative to the upload")
            roots, full = [_real(base)], Path(base) / pure
        else:
            if not pure.is_absolute():
                raise BadArgumentError(f"{what} {pattern}: give an absolute path on shared storage")
            roots, full = self.roots, Path(pure)
        folder = full.parent
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # an output folder may not exist yet
        real_folder = _real(existing) / folder.relative_to(existing)
        if not self._allowed(real_folder, roots):
            raise PathNotAllowedError(
                f"{what} {pattern} is outside the folders this service may use "
                f"({', '.join(map(str, roots)) or 'none: start it with --allow-root'})"
            )
        return str(real_folder / full.name)

    def check_files(
        self, pattern: str, frames: Iterable[int], what: str, base: Path | None = None
    ) -> None:
        """Refuse frame files that are symlinks leading outside the roots (or the upload)."""
        roots = [_real(base)] if base is not None else self.roots
        seq = SequencePath(pattern)
        for frame in frames:
            path = seq.path(frame)
            if path.exists() and not self._allowed(_real(path), roots):
                raise PathNotAllowedError(
                    f"{what} frame {frame} ({path}) resolves outside the allowed folders"
                )
