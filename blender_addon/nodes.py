# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the compositor nodes for a result: the matte EXR, and one Set Alpha per person.

Blender 5 keeps the compositor in ``scene.compositing_node_group`` (a node group ending in a Group
Output); Blender 4.2-4.5 in ``scene.node_tree``. The multilayer EXR's ``person01.A`` channel is an
output named ``person01`` on the Image node.
"""

from __future__ import annotations

import bpy

FRAME_LABEL = "vfxmatte"


def compositor_tree(scene):
    """The scene's compositor node tree, created (with a Group Output on 5.x) when missing."""
    if hasattr(scene, "compositing_node_group"):  # Blender 5
        tree = scene.compositing_node_group
        if tree is None:
            tree = bpy.data.node_groups.new(f"{scene.name} Compositing", "CompositorNodeTree")
            tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
            out = tree.nodes.new("NodeGroupOutput")
            out.location = (900, 0)
            scene.compositing_node_group = tree
        return tree
    scene.use_nodes = True  # Blender 4.x
    return scene.node_tree


def load_result(pattern_first: str, frames: list[int], name: str):
    """Load the result EXR (a sequence when several frames) as a Blender image."""
    image = bpy.data.images.load(pattern_first, check_existing=False)
    image.name = name
    image.source = "SEQUENCE" if len(frames) > 1 else "FILE"
    return image


def build_nodes(scene, result_image, names: list[str], plate, scene_first: int, count: int):
    """Add an Image node for the result and a Set Alpha per person; return {name: node}."""
    tree = compositor_tree(scene)
    frame = tree.nodes.new("NodeFrame")
    frame.label = f"{FRAME_LABEL}: {result_image.name}"
    matte = tree.nodes.new("CompositorNodeImage")
    matte.name = matte.label = f"{FRAME_LABEL} result"
    matte.image = result_image
    matte.parent = frame
    matte.location = (0, 0)
    if result_image.source == "SEQUENCE":
        matte.frame_start = scene_first
        matte.frame_duration = count
    if plate is not None and plate.bl_rna.identifier == "MovieClip":
        source = tree.nodes.new("CompositorNodeMovieClip")
        source.clip = plate
    else:
        source = tree.nodes.new("CompositorNodeImage")
        source.image = plate
    source.name = source.label = f"{FRAME_LABEL} plate"
    source.parent = frame
    source.location = (0, 300)
    people = {}
    missing = [n for n in names if n not in matte.outputs]
    if missing:
        raise RuntimeError(
            f"the result {result_image.filepath} has no layer(s) {', '.join(missing)}; "
            f"it offers {', '.join(o.name for o in matte.outputs)}"
        )
    for i, name in enumerate(names):
        node = tree.nodes.new("CompositorNodeSetAlpha")
        node.name = f"{FRAME_LABEL} {name}"
        node.label = name
        node.parent = frame
        node.location = (350, 200 - 180 * i)
        tree.links.new(source.outputs["Image"], node.inputs["Image"])
        tree.links.new(matte.outputs[name], node.inputs["Alpha"])
        people[name] = node
    return people
