# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidebar panels in the Movie Clip editor and the Compositor, and a Clip menu entry."""

from __future__ import annotations

import bpy


def _draw(layout, context) -> None:
    settings = context.scene.vfxmatte
    col = layout.column()
    for person in settings.people:
        box = col.box()
        box.prop(person, "name")
        box.prop(person, "source", expand=True)
        box.prop(person, "mask" if person.source == "MASK" else "pattern")
    row = col.row(align=True)
    row.operator("vfxmatte.person_add", icon="ADD")
    row.operator("vfxmatte.person_remove", icon="REMOVE")
    if not settings.people:
        col.label(text="No people listed: every Mask becomes one")
    col.operator("vfxmatte.matte", icon="MOD_MASK").frames = "SCENE"
    col.operator("vfxmatte.matte", text="Matte Current Frame").frames = "CURRENT"
    if settings.last_result:
        col.label(text=f"Last: {bpy.path.basename(settings.last_result)}")


class VFXMATTE_PT_clip(bpy.types.Panel):
    bl_label = "VfxMatte"
    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "VfxMatte"

    def draw(self, context):
        _draw(self.layout, context)


class VFXMATTE_PT_compositor(bpy.types.Panel):
    bl_label = "VfxMatte"
    bl_space_type = "NODE_EDITOR"
    bl_region_type = "UI"
    bl_category = "VfxMatte"

    @classmethod
    def poll(cls, context):
        return getattr(context.space_data, "tree_type", "") == "CompositorNodeTree"

    def draw(self, context):
        _draw(self.layout, context)


def _clip_menu(self, context) -> None:
    self.layout.separator()
    self.layout.operator("vfxmatte.matte", icon="MOD_MASK")


CLASSES = (VFXMATTE_PT_clip, VFXMATTE_PT_compositor)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.CLIP_MT_clip.append(_clip_menu)


def unregister() -> None:
    bpy.types.CLIP_MT_clip.remove(_clip_menu)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
