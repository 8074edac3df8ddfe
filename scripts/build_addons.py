#!/usr/bin/env python3
"""Build the host add-ons with the one shared client copied in (no committed copies).

    python scripts/build_addons.py [--out build/addons] [--blender-python .venv-blender/bin/python]

Produces:
  <out>/nuke/                       nuke_plugin/ + vfxmatte_client/ (add it to NUKE_PATH)
  <out>/blender/vfxmatte/           the extension source with vfxmatte_client/ inside
  <out>/vfxmatte-<version>.zip      the Blender extension, validated and built with Blender's own
                                    extension tool (bl_pkg's blender_ext.py, shipped in the bpy
                                    wheel) when a Python with bpy is given or found
Exit codes: 0 built, 3 a source folder is missing, 4 Blender's validate/build failed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def stage(src: Path, dest: Path) -> Path:
    """Copy an add-on source folder and the shared client into ``dest`` (replacing it)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=IGNORE)
    shutil.copytree(REPO / "vfxmatte_client", dest / "vfxmatte_client", ignore=IGNORE)
    return dest


def blender_ext_tool(python: str) -> Path:
    """Where the bpy wheel keeps Blender's extension CLI (``blender --command extension``)."""
    code = (
        "import bpy, os; print(os.path.join(bpy.utils.system_resource('SCRIPTS'), "
        "'addons_core', 'bl_pkg', 'cli', 'blender_ext.py'))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip().splitlines()[-1])
    if not path.is_file():
        raise FileNotFoundError(f"no blender_ext.py in the bpy install of {python}: {path}")
    return path


def build_blender(python: str, source: Path, out_dir: Path) -> Path:
    tool = blender_ext_tool(python)
    for args in (
        ["validate", str(source)],
        ["build", "--source-dir", str(source), "--output-dir", str(out_dir)],
    ):
        proc = subprocess.run([python, str(tool), *args], capture_output=True, text=True)
        print(proc.stdout.strip(), proc.stderr.strip(), sep="\n" if proc.stderr else "")
        if proc.returncode != 0:
            raise SystemExit(4)
    zips = sorted(out_dir.glob("vfxmatte-*.zip"), key=lambda p: p.stat().st_mtime)
    return zips[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "addons")
    parser.add_argument(
        "--blender-python",
        default=None,
        help="a Python with bpy (default: .venv-blender/bin/python when present)",
    )
    args = parser.parse_args(argv)
    for folder in ("nuke_plugin", "blender_addon", "vfxmatte_client"):
        if not (REPO / folder).is_dir():
            print(f"build_addons: {REPO / folder} is missing", file=sys.stderr)
            return 3
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    nuke = stage(REPO / "nuke_plugin", out / "nuke")
    print(f"build_addons: Nuke plugin in {nuke} (add it to NUKE_PATH)")
    blender = stage(REPO / "blender_addon", out / "blender" / "vfxmatte")
    python = args.blender_python
    default = REPO / ".venv-blender" / "bin" / "python"
    if python is None and default.exists():
        python = str(default)
    if python is None:
        print(
            f"build_addons: Blender extension staged in {blender}; no bpy Python to build the zip"
        )
        return 0
    for old in out.glob("vfxmatte-*.zip"):
        old.unlink()
    package = build_blender(python, blender, out)
    print(f"build_addons: Blender extension {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
