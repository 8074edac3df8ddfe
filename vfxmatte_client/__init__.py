"""Standard-library client for the vfxmatte engine service, shared by the Nuke and Blender add-ons.

This package must import nothing outside the Python standard library: it runs inside Nuke's and
Blender's own Python. ``scripts/build_addons.py`` copies it into each add-on, so there is one
source of truth and no committed copies.
"""

from .client import (
    JobStatus,
    ServiceClient,
    ServiceError,
    ServiceUnavailableError,
)
from .config import (
    DEFAULT_PORT,
    DEFAULT_URL,
    JOB_DEFAULTS,
    default_config_dir,
    default_token_file,
    read_token,
    start_command,
)

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_URL",
    "JOB_DEFAULTS",
    "JobStatus",
    "ServiceClient",
    "ServiceError",
    "ServiceUnavailableError",
    "default_config_dir",
    "default_token_file",
    "read_token",
    "start_command",
]
