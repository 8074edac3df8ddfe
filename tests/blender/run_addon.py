"""Run inside the bpy venv (Python 3.13 + bpy): install the built extension into a temporary
user folder, run its operator headless against a running service, report the node tree as JSON.

    BLENDER_USER_RESOURCES=<tmp> python run_addon.py ZIP URL TOKEN_FILE PLATE_FIRST MASK1 MASK2 WORK
"""

import json
import os
import sys

import bpy
import numpy as np

zip_path, url, token_file, plate_first, mask1, mask2, work = sys.argv[1:8]
report = {"blender": bpy.app.version_string}

# Install with Blender's own extension operator into the user repository (a temp folder).
result = bpy.ops.extensions.package_install_files(
    filepath=zip_path, repo="user_default", enable_on_install=True
)
report["install"] = sorted(result)
module = "bl_ext.user_default.vfxmatte"
report["enabled"] = module in bpy.context.preferences.addons
repo_dir = bpy.utils.user_resource("EXTENSIONS", path="user_default")
report["installed_in"] = repo_dir
report["installed_files"] = sorted(os.listdir(os.path.join(repo_dir, "vfxmatte")))

prefs = bpy.context.preferences.addons[module].preferences
prefs.url, prefs.token_file, prefs.transfer, prefs.work_dir = url, token_file, "auto", work
prefs.device = "cpu"

scene = bpy.context.scene
scene.render.compositor_device = "CPU"
clip = bpy.data.movieclips.load(plate_first)
scene.active_clip = clip
scene.frame_start = scene.frame_current = clip.frame_start  # file 0000
for name, pattern in (("person01", mask1), ("person02", mask2)):
    person = scene.vfxmatte.people.add()
    person.name, person.source, person.pattern = name, "IMAGE", pattern

result = bpy.ops.vfxmatte.matte(frames="CURRENT")
report["operator"] = sorted(result)
tree = scene.compositing_node_group
report["tree"] = tree.name if tree else None
nodes = {n.name: n for n in tree.nodes} if tree else {}
matte = nodes.get("vfxmatte result")
report["result_outputs"] = [o.name for o in matte.outputs] if matte else []
report["result_file"] = bpy.path.abspath(matte.image.filepath) if matte else ""
report["people"] = {}
for name in ("person01", "person02"):
    node = nodes.get(f"vfxmatte {name}")
    if node is None:
        continue
    alpha = node.inputs["Alpha"].links
    image = node.inputs["Image"].links
    report["people"][name] = {
        "type": node.bl_idname,
        "alpha_from": [(link.from_node.name, link.from_socket.name) for link in alpha],
        "image_from": [link.from_node.bl_idname for link in image],
    }
report["group_output"] = any(n.bl_idname == "NodeGroupOutput" for n in nodes.values())
report["last_job"] = scene.vfxmatte.last_job

# A Blender Mask datablock rasterised by the add-on (a centred square over half the width).
ops = sys.modules[module + ".ops"]
mask = bpy.data.masks.new("square")
spline = mask.layers.new(name="layer").splines.new()
spline.points.add(3)
for point, (x, y) in zip(
    spline.points, [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)], strict=True
):
    point.co = point.handle_left = point.handle_right = (x, y)
plan = ops.Plan.__new__(ops.Plan)
plan.source, plan.work, plan.file_of = clip, work, {scene.frame_current: 0}
png = plan._rasterise(bpy.context, mask, "square", [scene.frame_current]).replace("####", "0000")
img = bpy.data.images.load(png)
pixels = np.empty(len(img.pixels), np.float32)
img.pixels.foreach_get(pixels)  # one copy (indexing img.pixels copies the image each time)
report["raster"] = {"size": list(img.size), "white": float((pixels[0::4] > 0.5).mean())}
print("VFXMATTE_REPORT " + json.dumps(report))
