"""Read-ahead of the next frames and write-behind of finished ones, in bounded worker threads.

Why: a frame's read (EXR decode), colour conversion and write (EXR encode) are I/O and C++
work that release the GIL (OpenImageIO, OpenColorIO, zlib), while the engine runs torch. Done
one after the other they add up; overlapped, a frame costs about its slowest stage. Both
queues are bounded (``depth`` frames), so memory stays flat however long the shot is.

Neither class changes what is computed or written: a read-ahead miss reads in the caller's
thread, an error of a prefetched frame is raised when (and only if) that frame is asked for,
and every write keeps its atomic temp-file-and-rename; :meth:`WriteBehind.drain` is where a
write's error surfaces, exactly as if the write had run in place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def io_depth() -> int:
    """Frames read ahead and written behind: 1, enough while the engine is the slowest stage
    (each frame ahead holds a decoded plate: ~100 MB at 4K); ``VFXMATTE_IO_DEPTH=0`` turns the
    overlap off (for A/B timings; the results are the same either way)."""
    value = os.environ.get("VFXMATTE_IO_DEPTH", "1")
    return int(value) if value.isdigit() else 1


class ReadAhead(Generic[T]):
    """``get(frame)`` returns ``load(frame)``, having started loads of the next ``depth``
    frames on the step grid (``frame + step``, ...) that ``exists`` says are there.

    Sequential read-ahead, as an OS does for files: whoever walks the frames (a whole run,
    lead-in frames then the frame, a farm chunk) need not tell the reader its plan; a frame
    asked for out of order is simply read in place. Frames behind the one asked for are
    dropped, so at most ``depth`` loaded frames wait at any time.
    """

    def __init__(
        self,
        load: Callable[[int], T],
        exists: Callable[[int], bool],
        step: int = 1,
        depth: int = 1,
    ):
        self._load, self._exists = load, exists
        self.step, self.depth = max(1, step), max(0, depth)
        self._pool = ThreadPoolExecutor(1, "vfxmatte-read") if self.depth else None
        self._ahead: dict[int, Future[T]] = {}
        self.hits = 0  # frames that were ready (or in flight) when asked for
        self.misses = 0

    def get(self, frame: int) -> T:
        """The loaded frame; raises what ``load`` raised for it."""
        future = self._ahead.pop(frame, None)
        for stale in [f for f in self._ahead if f < frame or f > frame + self.depth * self.step]:
            self._ahead.pop(stale).cancel()
        if future is None:
            self.misses += 1
            self._schedule(frame)
            return self._load(frame)
        self.hits += 1
        self._schedule(frame)
        return future.result()

    def _schedule(self, frame: int) -> None:
        if self._pool is None:
            return
        for k in range(1, self.depth + 1):
            nxt = frame + k * self.step
            if nxt not in self._ahead and self._exists(nxt):
                self._ahead[nxt] = self._pool.submit(self._load, nxt)

    def close(self) -> None:
        """Drop what was read ahead and stop the worker (waits for a load in flight)."""
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class WriteBehind(Generic[R]):
    """Runs writes in one worker thread with at most ``depth`` waiting or in flight.

    ``submit(write, item)`` queues ``write(item)``; once more than ``depth`` are pending it
    first waits for the oldest. :meth:`drain` hands back finished ``(item, result, seconds)``
    in submission order (raising the first write's error), so progress events, the list of
    written frames and the preview stay in the caller's thread and in frame order. ``depth``
    0 writes in place.
    """

    def __init__(self, depth: int = 1):
        self.depth = max(0, depth)
        self._pool = ThreadPoolExecutor(1, "vfxmatte-write") if self.depth else None
        self._pending: list[tuple[object, Future]] = []

    def submit(self, write: Callable[[T], R], item: T) -> None:
        if self._pool is None:
            self._pending.append((item, _done(_timed, write, item)))
            return
        self._pending.append((item, self._pool.submit(_timed, write, item)))

    def drain(self, wait: bool = False) -> Iterator[tuple[object, R, float]]:
        """Finished writes, oldest first; with ``wait`` every pending one, else those done
        (and always enough to leave at most ``depth`` pending)."""
        while self._pending:
            item, future = self._pending[0]
            if not (wait or future.done() or len(self._pending) > self.depth):
                return
            self._pending.pop(0)
            result, seconds = future.result()
            yield item, result, seconds

    def settle(self) -> None:
        """Let every queued write finish, ignoring their errors: for unwinding after a stop
        signal or another error, so frames already handed over still land whole on disk."""
        for _, future in self._pending:
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - the error that is unwinding wins
                pass
        self._pending.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


@contextmanager
def write_behind(depth: int = 1) -> Iterator[WriteBehind]:
    """A :class:`WriteBehind` whose queued writes always finish before the block is left."""
    writer: WriteBehind = WriteBehind(depth)
    try:
        yield writer
    except BaseException:
        writer.settle()
        raise
    finally:
        writer.close()


def _timed(write: Callable[[T], R], item: T) -> tuple[R, float]:
    t0 = time.perf_counter()
    result = write(item)
    return result, time.perf_counter() - t0


def _done(fn: Callable, *args) -> Future:
    """A future already resolved with ``fn(*args)`` (its exception, if it raised)."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to drain(), which raises it
        future.set_exception(exc)
    return future
