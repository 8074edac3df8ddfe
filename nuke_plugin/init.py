"""Nuke start-up (GUI, terminal and render): nothing to do but be on NUKE_PATH.

The plugin folder is built by ``scripts/build_addons.py`` (it adds the shared ``vfxmatte_client``
next to this file); Nuke puts this folder on ``sys.path``, so menu.py can import the package.
"""
