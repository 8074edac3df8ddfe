#!/usr/bin/env bash
# CI: a new user's first command on a stock machine. Clone the repo into a fresh folder, hide
# every Python but Debian's (no pyenv shims, no active venv, no `python` alias, PYTHON313
# pointing nowhere), run the README's first command to the end and check the demo's output.
# Prints how long it took (pip reads the local wheel cache; see README).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/vfxmatte-fresh.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/vfxmatte"
first_command="$(awk '/^```bash/{getline; print; exit}' "$repo/README.md" | sed 's/[[:space:]]*#.*$//')"
echo "fresh-clone: running the README's first command: $first_command"
start=$(date +%s)
set +e
(
  cd "$work/vfxmatte"
  env -u VIRTUAL_ENV -u PYTHONPATH -u PYENV_VERSION \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHON313=/nonexistent/python3.13 \
    bash -c "$first_command"
) >"$work/log" 2>&1
status=$?
set -e
seconds=$(( $(date +%s) - start ))
grep -v "^WARNING: Location" "$work/log" | tail -n 15
fail() { echo "fresh-clone: FAILED: $1" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "the README's first command exited $status"
grep -q "using the project venv .venv; to use vfxmatte from your shell: source .venv/bin/activate" "$work/log" \
  || fail "setup did not make the project venv or did not say how to activate it"
grep -q "setup_blender_venv: no Python 3.13" "$work/log" || fail "the missing Python 3.13 was not reported"
for frame in 1001 1002 1003 1004; do
  [ -s "$work/vfxmatte/demo/mattes/matte.$frame.exr" ] || fail "demo frame $frame missing"
done
[ -s "$work/vfxmatte/demo/mattes/preview.png" ] || fail "demo preview.png missing"
"$work/vfxmatte/.venv/bin/python" - "$work/vfxmatte/demo/mattes/matte.1001.exr" <<'PY' || fail "demo EXR has no person layers"
import sys
import OpenImageIO as oiio
names = set(oiio.ImageInput.open(sys.argv[1]).spec().channelnames)
sys.exit(0 if {"A", "person01.A", "person02.A"} <= names else 1)
PY
echo "fresh-clone: ok in ${seconds}s (clone, venv, install, demo)"
