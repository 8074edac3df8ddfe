"""Nuke GUI start-up: add the VfxMatte node to the Nodes menu."""

import nuke
from vfxmatte_nuke import glue

nuke.menu("Nodes").addMenu("VfxMatte").addCommand("VfxMatte", glue.create_node)
