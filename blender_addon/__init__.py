# SPDX-License-Identifier: GPL-3.0-or-later
"""VfxMatte for Blender: send the active clip and its masks to `vfxmatte serve`, get one compositor
output per person back.

Only the standard library, numpy (bundled with Blender) and the shared ``vfxmatte_client`` (copied
into the built extension by ``scripts/build_addons.py``) are used: never torch or vfxmatte itself.
bpy is imported inside ``register`` so the pure modules (``sources``, ``raster``) stay importable,
and testable, outside Blender.
"""

_modules = []


def register() -> None:
    from . import ops, props, ui

    _modules[:] = [props, ops, ui]
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
    _modules.clear()
