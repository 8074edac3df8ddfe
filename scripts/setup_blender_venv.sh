#!/usr/bin/env bash
# Create .venv-blender: Python 3.13 + bpy (Blender as a Python module) for the Blender add-on tests.
# bpy wheels exist only for one Python minor version per Blender release (5.2 -> 3.13), which
# Debian 12 does not ship. The 3.13 is $PYTHON313 when set (and only that), else pyenv's 3.13,
# else python3.13 on PATH. Without one this says so in one line and exits 0: this venv serves
# tests only, which then skip locally and fail under CI (VFXMATTE_CI=1).
# Idempotent: a venv that already imports the pinned bpy is kept (the wheel is several hundred
# MB; install it once).
set -euo pipefail

BPY_VERSION="${BPY_VERSION:-5.2.3}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VFXMATTE_BLENDER_VENV:-$REPO_ROOT/.venv-blender}"

find_python313() {
    if [ -n "${PYTHON313+set}" ]; then
        echo "$PYTHON313"
        return
    fi
    local candidate
    for candidate in "$(pyenv prefix 3.13 2>/dev/null)/bin/python3" \
        "$HOME"/.pyenv/versions/3.13*/bin/python3 \
        "$(command -v python3.13 || true)"; do
        if [ -x "$candidate" ] && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
}

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import bpy, sys; sys.exit(0 if bpy.app.version_string.startswith('${BPY_VERSION%.*}') else 1)" >/dev/null 2>&1; then
    echo "setup_blender_venv: $VENV already has bpy $BPY_VERSION"
    exit 0
fi
PYTHON313="$(find_python313)"
if [ -z "$PYTHON313" ] || [ ! -x "$PYTHON313" ]; then
    echo "setup_blender_venv: no Python 3.13 (\$PYTHON313${PYTHON313:+=$PYTHON313}, pyenv, python3.13): skipping the Blender venv; its tests skip here and fail under CI"
    exit 0
fi
"$PYTHON313" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "bpy==$BPY_VERSION"
"$VENV/bin/python" -c "import bpy; print('setup_blender_venv: bpy', bpy.app.version_string, 'in $VENV')"
