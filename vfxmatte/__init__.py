"""vfxmatte: mask-guided human instance matting for VFX plates.

The library imports no UI and no host API; hosts talk to it through the CLI or the service.
"""

__version__ = "0.1.0"
