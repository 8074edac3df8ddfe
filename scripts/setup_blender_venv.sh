#!/usr/bin/env bash
# Create .venv-blender: Python 3.13 + bpy (Blender as a Python module) for the Blender add-on tests.
# bpy wheels exist only for one Python minor version per Blender release (5.2 -> 3.13), which
# Debian does not ship here, so the venv is made from pyenv's 3.13. Idempotent: a venv that
# already imports the pinned bpy is kept (the wheel is several hundred MB; install it once).
set -euo pipefail

BPY_VERSION="${BPY_VERSION:-5.2.3}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VFXMATTE_BLENDER_VENV:-$REPO_ROOT/.venv-blender}"
PYTHON313="${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import bpy, sys; sys.exit(0 if bpy.app.version_string.startswith('${BPY_VERSION%.*}') else 1)" >/dev/null 2>&1; then
    echo "setup_blender_venv: $VENV already has bpy $BPY_VERSION"
    exit 0
fi
if [ ! -x "$PYTHON313" ]; then
    echo "setup_blender_venv: Python 3.13 not found at $PYTHON313 (set PYTHON313=...)" >&2
    exit 3
fi
"$PYTHON313" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "bpy==$BPY_VERSION"
"$VENV/bin/python" -c "import bpy; print('setup_blender_venv: bpy', bpy.app.version_string, 'in $VENV')"
