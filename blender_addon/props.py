# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings: where the service is (preferences) and which masks belong to which person (scene)."""

from __future__ import annotations

import bpy
from bpy.props import (
    CollectionProperty,
    EnumProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .vfxmatte_client import DEFAULT_URL, JOB_DEFAULTS


class VfxMattePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    url: StringProperty(name="Service URL", default=DEFAULT_URL)
    token_file: StringProperty(
        name="Token file",
        subtype="FILE_PATH",
        description="The file `vfxmatte serve` wrote its token to (empty: the default location)",
    )
    transfer: EnumProperty(
        name="Transfer",
        items=[
            ("auto", "Auto", "Paths when the service may read them, uploads otherwise"),
            ("paths", "Shared storage", "The service reads and writes the files in place"),
            ("upload", "Upload", "Send frames to the service and download the mattes"),
        ],
        default="auto",
    )
    engine: StringProperty(name="Engine", default=JOB_DEFAULTS["engine"])
    device: StringProperty(name="Device", default=JOB_DEFAULTS["device"])
    work_dir: StringProperty(
        name="Work folder",
        subtype="DIR_PATH",
        description="Where rasterised masks and downloaded mattes go (empty: next to the .blend "
        "file, else a temporary folder)",
    )

    def draw(self, context):
        col = self.layout.column()
        for name in ("url", "token_file", "transfer", "engine", "device", "work_dir"):
            col.prop(self, name)


class VfxMattePerson(bpy.types.PropertyGroup):
    """One person: a Blender Mask datablock, or a mask image sequence on disk."""

    name: StringProperty(name="Layer name", default="person01")
    source: EnumProperty(
        name="Source",
        items=[("MASK", "Mask", "A Blender Mask datablock"), ("IMAGE", "Images", "Mask files")],
        default="MASK",
    )
    mask: PointerProperty(name="Mask", type=bpy.types.Mask)
    pattern: StringProperty(
        name="Mask files", subtype="FILE_PATH", description="e.g. //masks/person01.####.png"
    )


class VfxMatteSettings(bpy.types.PropertyGroup):
    people: CollectionProperty(type=VfxMattePerson)
    active_person: IntProperty(default=0)
    last_job: StringProperty(name="Last job")
    last_result: StringProperty(name="Last result", subtype="FILE_PATH")


CLASSES = (VfxMattePreferences, VfxMattePerson, VfxMatteSettings)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.vfxmatte = PointerProperty(type=VfxMatteSettings)


def unregister() -> None:
    del bpy.types.Scene.vfxmatte
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
