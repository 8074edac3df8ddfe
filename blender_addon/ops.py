# SPDX-License-Identifier: GPL-3.0-or-later
"""The operator: active clip + masks -> service -> compositor nodes, one output per person.

Interactive use runs the job in a background thread with a modal timer (progress in the status
bar, Esc cancels the job on the service); ``execute`` (scripts, headless, the tests) runs it to
the end in the caller's thread. bpy is only touched on the main thread.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time

import bpy
import numpy as np
from bpy.props import EnumProperty

from . import nodes, raster, sources
from .vfxmatte_client import ServiceClient, ServiceError
from .vfxmatte_client.client import frame_path


class PlanError(Exception):
    """A problem the artist can fix (no clip, no masks): reported as one line."""


def _prefs(context):
    return context.preferences.addons[__package__].preferences


def _layer_name(name: str, index: int) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")
    if not clean or clean[0].isdigit():
        clean = f"person{index:02d}" if not clean else f"p_{clean}"
    return clean


def _active_source(context):
    clip = getattr(context, "edit_movieclip", None) or context.scene.active_clip
    if clip is not None:
        return clip, clip.filepath, clip.frame_start, clip.frame_offset
    image = getattr(context, "edit_image", None)
    if image is not None and image.source in {"SEQUENCE", "FILE"}:
        return image, image.filepath, context.scene.frame_start, 0
    raise PlanError(
        "no clip: open one in the Movie Clip editor or set the scene's active clip "
        "(Scene properties)"
    )


class Plan:
    """Everything the job needs, gathered on the main thread."""

    def __init__(self, context, frames_mode: str):
        scene = context.scene
        prefs = _prefs(context)
        self.source, filepath, clip_start, clip_offset = _active_source(context)
        plate, first_number = sources.sequence_pattern(bpy.path.abspath(filepath))
        self.plate = os.path.normpath(plate)
        if frames_mode == "CURRENT":
            scene_frames = [scene.frame_current]
        else:
            scene_frames = list(range(scene.frame_start, scene.frame_end + 1))
        self.file_of = sources.file_frames(scene_frames, clip_start, clip_offset, first_number)
        self.scene_first = scene_frames[0]
        self.frames = [self.file_of[f] for f in scene_frames]
        for f in self.frames:
            if not os.path.exists(frame_path(self.plate, f)):
                raise PlanError(f"plate frame {f} is missing: {frame_path(self.plate, f)}")
        base = bpy.path.abspath(prefs.work_dir) if prefs.work_dir else ""
        if not base and bpy.data.filepath:
            base = os.path.join(os.path.dirname(bpy.data.filepath), "vfxmatte")
        if base:
            os.makedirs(base, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix=time.strftime("job-%Y%m%d-%H%M%S-"), dir=base or None)
        self.masks = self._masks(context, scene_frames)
        self.client = ServiceClient(prefs.url, token_file=prefs.token_file or None)
        self.transfer, self.engine, self.device = prefs.transfer, prefs.engine, prefs.device

    def _masks(self, context, scene_frames: list[int]) -> dict[str, str]:
        people = list(context.scene.vfxmatte.people)
        if not people:  # no list made: every Mask datablock is a person
            people = [_Auto(m) for m in bpy.data.masks]
        if not people:
            raise PlanError("no masks: add people in the VfxMatte panel or draw a Mask")
        masks: dict[str, str] = {}
        for i, person in enumerate(people, start=1):
            name = _layer_name(person.name, i)
            if name in masks:
                raise PlanError(f"two people are named {name}; rename one")
            if person.source == "IMAGE":
                if not person.pattern:
                    raise PlanError(f"{name}: choose its mask files")
                masks[name] = os.path.normpath(bpy.path.abspath(person.pattern))
            else:
                if person.mask is None:
                    raise PlanError(f"{name}: choose its Mask datablock")
                masks[name] = self._rasterise(context, person.mask, name, scene_frames)
        return masks

    def _rasterise(self, context, mask, name: str, scene_frames: list[int]) -> str:
        """Write the Mask datablock as a PNG per frame (evaluated at each scene frame)."""
        scene = context.scene
        w, h = (int(v) for v in self.source.size[:2])
        pattern = os.path.join(self.work, "masks", f"{name}.####.png")
        os.makedirs(os.path.dirname(pattern), exist_ok=True)
        current = scene.frame_current
        try:
            for f in scene_frames:
                scene.frame_set(f)
                polygons = []
                for layer in mask.layers:
                    if layer.hide_render:
                        continue
                    for spline in layer.splines:
                        pts = [
                            (tuple(p.handle_left), tuple(p.co), tuple(p.handle_right))
                            for p in spline.points
                        ]
                        poly = raster.bezier_polygon(pts, cyclic=True)
                        polygons.append(raster.mask_to_pixels(poly, w, h))
                _save_png(
                    raster.fill_polygons(polygons, w, h), frame_path(pattern, self.file_of[f])
                )
        finally:
            scene.frame_set(current)
        return pattern


class _Auto:
    def __init__(self, mask):
        self.name, self.source, self.mask, self.pattern = mask.name, "MASK", mask, ""


def _save_png(values: np.ndarray, path: str) -> None:
    h, w = values.shape
    img = bpy.data.images.new("vfxmatte_raster", w, h, alpha=False)
    try:
        grey = np.flipud(values).astype(np.float32) / 255.0  # Blender rows go bottom-up
        rgba = np.ones((h, w, 4), np.float32)
        rgba[..., :3] = grey[..., None]
        img.pixels.foreach_set(rgba.ravel())
        img.filepath_raw = path
        img.file_format = "PNG"
        img.save()
    finally:
        bpy.data.images.remove(img)


def _run(plan: Plan, on_progress=None, should_cancel=None):
    """The service round trip (no bpy: safe in a worker thread)."""
    return plan.client.matte(
        plan.plate,
        plan.masks,
        plan.frames,
        os.path.join(plan.work, "result"),
        engine=plan.engine,
        device=plan.device,
        full_frame=True,  # Blender misplaces smaller data windows
        transfer=plan.transfer,
        on_progress=on_progress,
        should_cancel=should_cancel,
    )


def _finish(context, plan: Plan, status, pattern: str):
    if status.state != "done":
        raise PlanError(f"job {status.id} {status.state}: {status.error or 'no detail'}")
    first = frame_path(pattern, plan.frames[0])
    image = nodes.load_result(first, plan.frames, f"vfxmatte {os.path.basename(plan.work)}")
    people = nodes.build_nodes(
        context.scene, image, status.names, plan.source, plan.scene_first, len(plan.frames)
    )
    settings = context.scene.vfxmatte
    settings.last_job, settings.last_result = status.id, pattern
    return people


class VFXMATTE_OT_matte(bpy.types.Operator):
    """Send the active clip and the people's masks to vfxmatte; add one output per person"""

    bl_idname = "vfxmatte.matte"
    bl_label = "Matte People"
    bl_options = {"REGISTER"}

    frames: EnumProperty(
        name="Frames",
        items=[("CURRENT", "Current frame", ""), ("SCENE", "Scene range", "")],
        default="SCENE",
    )

    _timer = None
    _thread = None

    def _plan(self, context):
        try:
            return Plan(context, self.frames)
        except (PlanError, sources.SourceError) as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context):
        plan = self._plan(context)
        if plan is None:
            return {"CANCELLED"}
        try:
            status, pattern = _run(plan)
            people = _finish(context, plan, status, pattern)
        except (ServiceError, PlanError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"vfxmatte: {', '.join(people)} from {pattern}")
        return {"FINISHED"}

    def invoke(self, context, event):
        if context.window is None:  # headless
            return self.execute(context)
        plan = self._plan(context)
        if plan is None:
            return {"CANCELLED"}
        self._state = {"plan": plan, "status": None, "result": None, "error": None}
        self._cancel = threading.Event()

        def work():
            try:
                self._state["result"] = _run(
                    plan, lambda s: self._state.__setitem__("status", s), self._cancel.is_set
                )
            except Exception as exc:  # reported on the main thread
                self._state["error"] = exc

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._cancel.set()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        status = self._state["status"]
        if status is not None:
            context.workspace.status_text_set(
                f"vfxmatte: {status.state} {status.done}/{status.total} frames (Esc cancels)"
            )
        if self._thread.is_alive():
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        context.workspace.status_text_set(None)
        if self._state["error"] is not None:
            self.report({"ERROR"}, str(self._state["error"]))
            return {"CANCELLED"}
        try:
            people = _finish(context, self._state["plan"], *self._state["result"])
        except (PlanError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"vfxmatte: added {', '.join(people)}")
        return {"FINISHED"}


class VFXMATTE_OT_person_add(bpy.types.Operator):
    """Add a person (a Mask datablock or mask files)"""

    bl_idname = "vfxmatte.person_add"
    bl_label = "Add Person"

    def execute(self, context):
        people = context.scene.vfxmatte.people
        person = people.add()
        person.name = f"person{len(people):02d}"
        return {"FINISHED"}


class VFXMATTE_OT_person_remove(bpy.types.Operator):
    """Remove the last person"""

    bl_idname = "vfxmatte.person_remove"
    bl_label = "Remove Person"

    def execute(self, context):
        people = context.scene.vfxmatte.people
        if len(people):
            people.remove(len(people) - 1)
        return {"FINISHED"}


CLASSES = (VFXMATTE_OT_matte, VFXMATTE_OT_person_add, VFXMATTE_OT_person_remove)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
