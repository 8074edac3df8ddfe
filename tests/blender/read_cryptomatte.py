"""Run inside the bpy venv: pick each named person with Blender's Cryptomatte node from a
vfxmatte EXR and render the node's Matte output to OUT_DIR/<name>.exr.

Usage: python read_cryptomatte.py EXR OUT_DIR WIDTH HEIGHT NAME [NAME...]
Prints one line ``VFXMATTE_REPORT {json}`` (layer found, entries per name, files written).
"""

import json
import os
import sys

import bpy

exr, out_dir, width, height, *names = sys.argv[sys.argv.index("--") + 1 :]
scene = bpy.context.scene
scene.render.compositor_device = "CPU"  # the GPU compositor can crash headless
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene.render.resolution_x, scene.render.resolution_y = int(width), int(height)
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "OPEN_EXR"
scene.render.image_settings.color_depth = "32"

tree = bpy.data.node_groups.new("vfxmatte cryptomatte", "CompositorNodeTree")
scene.compositing_node_group = tree
tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
output = tree.nodes.new("NodeGroupOutput")
image = bpy.data.images.load(exr)
source = tree.nodes.new("CompositorNodeImage")
source.image = image
crypto = tree.nodes.new("CompositorNodeCryptomatteV2")
crypto.source = "IMAGE"
crypto.image = image
tree.links.new(source.outputs[0], crypto.inputs["Image"])
tree.links.new(crypto.outputs["Matte"], output.inputs[0])

report = {"layer": crypto.layer_name, "entries": {}, "files": {}}
for name in names:
    crypto.matte_id = name
    report["entries"][name] = [entry.name for entry in crypto.entries]
    scene.render.filepath = os.path.join(out_dir, f"{name}.exr")
    result = bpy.ops.render.render(write_still=True)
    report["files"][name] = scene.render.filepath if result == {"FINISHED"} else None
print("VFXMATTE_REPORT " + json.dumps(report))
