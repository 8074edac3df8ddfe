"""Atomic file writes: a temp file in the destination folder, then a rename.

A reader (Nuke, a farm checker, ``--skip-existing``) therefore sees either no file or a complete
one, even when the writer is killed with SIGKILL mid-write. Stale temp files left by a killed
writer are hidden (leading dot) and removed by :func:`remove_stale_temps`.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vfxmatte.errors import OutputError

TEMP_MARK = ".vfxtmp"


def temp_path_for(final: Path) -> Path:
    """Hidden temp name beside ``final``, keeping its extension so writers pick the format.

    Unique per process, per thread and per call (pid, thread id, random): two service workers or
    two farm tasks writing the same frame never share a temp, so neither renames the other's
    half-written file into place.
    """
    unique = f"{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}"
    return final.with_name(f".{final.stem}{TEMP_MARK}{unique}{final.suffix}")


def temps_of(final: Path) -> list[Path]:
    """Temp files beside ``final`` that belong to it (any writer's, any age)."""
    final = Path(final)
    prefix = f".{final.stem}{TEMP_MARK}"
    folder = final.parent
    if not folder.is_dir():
        return []
    return [
        e for e in folder.iterdir() if e.name.startswith(prefix) and e.name.endswith(final.suffix)
    ]


def remove_temps_of(finals: list[Path], untouched_since: float) -> int:
    """Remove temps of these output files not modified since ``untouched_since`` (epoch seconds).

    Called when a job has written (or kept) all its frames: a temp of one of its own frames that
    nobody touched while it ran was left by an earlier, killed writer, whatever its age.
    """
    count = 0
    for final in finals:
        for tmp in temps_of(final):
            try:
                if tmp.stat().st_mtime < untouched_since:
                    tmp.unlink(missing_ok=True)
                    count += 1
            except FileNotFoundError:
                continue
    return count


def ensure_writable_dir(folder: Path) -> None:
    """Create ``folder`` if needed and check we can write there, with a one-line error if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {folder}: {exc.strerror}; choose another --out"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable; fix its permissions or --out")


def write_atomically(final: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp)`` then rename temp -> final; on any failure the temp is removed."""
    final = Path(final)
    ensure_writable_dir(final.parent)
    tmp = temp_path_for(final)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:  # make the bytes durable before they become visible
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {final}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path, older_than_s: float = 600.0) -> int:
    """Delete temp files a killed writer left in ``folder``; returns how many.

    Only temps untouched for ``older_than_s`` go: another farm task may be writing into the same
    folder right now, and its in-flight temp must survive.
    """
    count = 0
    if folder.is_dir():
        now = time.time()
        for entry in folder.iterdir():
            if entry.name.startswith(".") and TEMP_MARK in entry.name:
                try:
                    if now - entry.stat().st_mtime >= older_than_s:
                        entry.unlink(missing_ok=True)
                        count += 1
                except FileNotFoundError:
                    continue
    return count
