"""Shared fixtures: the real data folder, a CLI runner in a subprocess, small synthetic shots."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Thread-pool sizes of one xdist worker and of every process it starts (see one_core_per_worker).
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def under_xdist() -> bool:
    """True in a pytest-xdist worker (pyproject's addopts run the suite on ``-n 2`` workers)."""
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_configure(config) -> None:
    """One core per xdist worker: the suite runs on two workers on a two-core box, and torch's
    default pool (one thread per core) in each of them, and in each CLI process they start,
    oversubscribes the cores; the guided solver's many small ops then run several times slower
    (conftest's one_torch_thread measures why). A serial run (``-n 0``) keeps torch's default."""
    if not under_xdist():
        return
    os.environ.update(SINGLE_THREAD_ENV)  # inherited by every subprocess a test starts
    import torch

    torch.set_num_threads(1)


def find_shared_data() -> Path | None:
    """../shared/data beside the checkout (CI clones next to a copy of shared/), or $VFXMATTE_SHARED_DATA."""
    env = os.environ.get("VFXMATTE_SHARED_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def one_torch_thread():
    """The guided solver is many small tensor ops: on a shared 2-core box torch's thread pool
    oversubscribes and runs it ~10-60x slower (measured), so its tests use one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = find_shared_data()
    if data is None:
        pytest.skip("real data folder ../shared/data not found (set VFXMATTE_SHARED_DATA)")
    return data


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `vfxmatte ARGS` as a user would (a real process: exit code, stdout, stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *map(str, args)],
        cwd=cwd or REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def _fd_captured(fd: int) -> Iterator[Callable[[], str]]:
    """Send file descriptor ``fd`` to a temp file for the block; yields a reader of its text.
    Why: a C library (OpenImageIO, OpenColorIO) prints to the descriptor, not to sys.stderr."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(fd)
        os.dup2(sink.fileno(), fd)
        try:
            yield lambda: (sink.seek(0), sink.read().decode(errors="replace"))[1]
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def run_cli_in_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`vfxmatte ARGS` through ``cli.main.main`` in this process, as :func:`run_cli` returns it.

    For commands refused before any work (bad arguments, missing files): there a process adds
    only its start (~4 s of imports) to what is checked. Python's and the C libraries' output are
    both captured; torch's thread count and the working folder are restored afterwards.
    """
    import torch

    from cli.main import main

    threads, here = torch.get_num_threads(), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    sys.stdout.flush()
    sys.stderr.flush()
    with _fd_captured(1) as fd_out, _fd_captured(2) as fd_err:
        os.chdir(cwd or REPO_ROOT)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        finally:
            os.chdir(here)
            torch.set_num_threads(threads)
        stdout, stderr = out.getvalue() + fd_out(), err.getvalue() + fd_err()
    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): Python prints it and exits 1
        stderr, code = stderr + f"{code}\n", 1
    return subprocess.CompletedProcess(["vfxmatte", *map(str, args)], code, stdout, stderr)


@pytest.fixture
def cli():
    return run_cli


def in_ci() -> bool:
    """`.ci/run` sets VFXMATTE_CI=1: there, a missing prerequisite is a failure, not a skip."""
    return os.environ.get("VFXMATTE_CI") == "1"


def require_or_skip(available: bool, reason: str) -> None:
    """Skip locally when something CI installs is absent; fail in CI, where it must be present."""
    if available:
        return
    if in_ci():
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)


def _devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Each device present (cpu, and cuda where there is one), kornia style."""
    return request.param


@pytest.fixture(params=["float32", "float16"])
def dtype(request):
    """float32 and float16: a test skips float16 where its engine offers no half precision."""
    import torch

    return getattr(torch, request.param)
