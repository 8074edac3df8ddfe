"""Frame specs and sequence paths.

Frame numbers are kept end to end (1001 stays 1001). Ranges use fileseq's grammar
(``1001-1100``, ``1001-1100x2``, ``1-10,20-30``). Paths use Nuke-style padding: ``#`` is one digit
(``####`` = 4 digits, fileseq's PAD_STYLE_HASH1), ``@`` one digit, printf ``%04d`` and Houdini
``$F4``. The padding token may sit anywhere in the file name (``####_person1.png`` works too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import fileseq

from vfxmatte.errors import BadArgumentError

# One padding token: a run of # or @, printf %d / %0Nd, or Houdini $F / $FN.
_TOKEN = re.compile(r"(#+|@+|%0?(\d*)d|\$F(\d*))")


MAX_FRAMES = 100_000  # frames in one job: split longer ranges (a farm does, per chunk)
MAX_FRAME_DIGITS = 9  # |frame| < 1e9; a 30-digit number is a typo, not a frame
# One term of a frame spec: N, A-B, or A-B with a step (x), inverse step (y) or stagger (:).
_TERM = re.compile(r"(-?\d+)(?:-(-?\d+)(?:([xy:])(-?\d+))?)?")


def _term_count(term: str, spec: str) -> int:
    """Upper bound of the frames one term expands to, computed without expanding it."""
    m = _TERM.fullmatch(term)
    if m is None:
        raise BadArgumentError(
            f"--frames '{spec}' is not a frame range: use 1001-1100, 1001-1100x2 or 1-10,20-30"
        )
    numbers = [g for g in (m.group(1), m.group(2), m.group(4)) if g is not None]
    for number in numbers:
        if len(number.lstrip("-")) > MAX_FRAME_DIGITS:
            raise BadArgumentError(
                f"--frames '{spec}': {number} is too large for a frame number or step "
                f"(at most {MAX_FRAME_DIGITS} digits)"
            )
    if m.group(2) is None:
        return 1
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise BadArgumentError(f"--frames '{spec}': {term} runs backwards; write it {end}-{start}")
    if m.group(4) is not None and int(m.group(4)) <= 0:
        raise BadArgumentError(f"--frames '{spec}': the step in {term} must be at least 1")
    return end - start + 1


def count_frames(spec: str) -> int:
    """How many frames ``spec`` names at most, checked term by term before anything is expanded."""
    text = (spec or "").replace(" ", "")
    if not text:
        raise BadArgumentError("--frames is empty: give a range such as 1001-1100 or 1-10,20-30")
    return sum(_term_count(term, spec) for term in text.split(","))


def parse_frames(spec: str, max_frames: int = MAX_FRAMES) -> list[int]:
    """Expand a frame spec into sorted unique frame numbers, e.g. "1001-1005x2" -> [1001, 1003, 1005].

    The spec is sized arithmetically first (:func:`count_frames`): ``1-9999999999`` or a 30-digit
    number is one clear error, never a multi-gigabyte expansion.
    """
    total = count_frames(spec)
    if total > max_frames:
        raise BadArgumentError(
            f"--frames '{spec}' names {total} frames; one job takes at most {max_frames}: "
            "split the range into several jobs"
        )
    text = spec.replace(" ", "")
    try:
        frames = sorted(set(int(f) for f in fileseq.FrameSet(text)))
    except (fileseq.ParseException, ValueError, ArithmeticError) as exc:
        raise BadArgumentError(
            f"--frames '{spec}' is not a frame range: use 1001-1100, 1001-1100x2 or 1-10,20-30"
        ) from exc
    return frames


def format_frames(frames: list[int]) -> str:
    """Compact text form of frame numbers ("1001-1003,1007")."""
    return str(fileseq.FrameSet(sorted(set(frames)))) if frames else ""


@dataclass(frozen=True)
class SequencePath:
    """A path pattern for one image per frame; a path with no token is the same file for every frame."""

    pattern: str

    def _token(self) -> re.Match[str] | None:
        name = Path(self.pattern).name
        matches = list(_TOKEN.finditer(name))
        return matches[-1] if matches else None

    @property
    def is_sequence(self) -> bool:
        return self._token() is not None

    @property
    def padding(self) -> int:
        m = self._token()
        if m is None:
            return 0
        tok = m.group(1)
        if tok[0] in "#@":
            return len(tok)
        digits = m.group(2) if tok.startswith("%") else m.group(3)
        return int(digits) if digits else 1

    def path(self, frame: int) -> Path:
        """The file for ``frame`` (negative frames keep their sign before the padding)."""
        m = self._token()
        if m is None:
            return Path(self.pattern)
        name = Path(self.pattern).name
        pad = self.padding
        number = f"-{abs(frame):0{pad}d}" if frame < 0 else f"{frame:0{pad}d}"
        new_name = name[: m.start()] + number + name[m.end() :]
        return Path(self.pattern).with_name(new_name)

    def frames_on_disk(self) -> list[int]:
        """Frame numbers whose files exist, in order."""
        m = self._token()
        if m is None:
            return []
        name = Path(self.pattern).name
        prefix, suffix = name[: m.start()], name[m.end() :]
        rx = re.compile(re.escape(prefix) + r"(-?\d+)" + re.escape(suffix) + r"\Z")
        folder = Path(self.pattern).parent
        if not folder.is_dir():
            return []
        found = []
        pad = self.padding
        for entry in folder.iterdir():
            hit = rx.match(entry.name)
            if hit and len(hit.group(1).lstrip("-")) >= pad:
                found.append(int(hit.group(1)))
        return sorted(found)

    def __str__(self) -> str:
        return self.pattern
