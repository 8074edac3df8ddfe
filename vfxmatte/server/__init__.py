"""The engine service (`vfxmatte serve`): a FastAPI app the Nuke and Blender add-ons talk to."""
