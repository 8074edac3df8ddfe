"""Where the service and its clients meet: the default URL and the token file.

The service writes its bearer token on first start into the user's config folder; the add-ons read
the same file, so an artist on one workstation never types a token. Both sides import these
functions, so the location is defined once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_PORT = 8765
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
TOKEN_FILE_NAME = "service-token"
#: Job defaults the add-ons show before the artist changes them. They must equal
#: vfxmatte.jobspec.JobSpec's (tests/test_spine.py holds them to it); this package is stdlib only,
#: so it cannot import the spec. full_frame is the hosts' own choice: Blender misplaces smaller
#: data windows, so the add-ons ask for the full display window.
JOB_DEFAULTS = {"engine": "guided", "device": "auto"}
HOST_FULL_FRAME = True


def default_config_dir() -> Path:
    """The per-user config folder (XDG on Linux, Application Support on macOS, APPDATA on Windows)."""
    override = os.environ.get("VFXMATTE_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "vfxmatte"


def default_token_file() -> Path:
    """``$VFXMATTE_TOKEN_FILE`` or ``<config dir>/service-token``."""
    override = os.environ.get("VFXMATTE_TOKEN_FILE")
    return Path(override) if override else default_config_dir() / TOKEN_FILE_NAME


def default_url() -> str:
    """``$VFXMATTE_URL`` or the loopback default."""
    return os.environ.get("VFXMATTE_URL") or DEFAULT_URL


def read_token(token_file: str | os.PathLike | None = None) -> str:
    """The bearer token from ``token_file`` (default location when None); '' when absent."""
    path = Path(token_file) if token_file else default_token_file()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def start_command(url: str | None = None, token_file: str | os.PathLike | None = None) -> str:
    """The shell command that starts a service matching ``url`` (shown when none answers)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or default_url())
    cmd = "vfxmatte serve"
    if parts.hostname and parts.hostname not in ("127.0.0.1", "localhost"):
        cmd += f" --host {parts.hostname}"
    if parts.port and parts.port != DEFAULT_PORT:
        cmd += f" --port {parts.port}"
    if token_file:
        cmd += f" --token-file {token_file}"
    return cmd + " --allow-root <folder with your plates>"
