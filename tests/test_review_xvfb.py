"""The review window on a real X server (Xvfb + Qt's xcb platform), as a compositor would see it.

CI installs Xvfb and the xcb libraries (see the review section of the lead's CI notes), so a
missing Xvfb skips here but fails in CI (`require_or_skip`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, cli_env, require_or_skip
from review_data import cached_pipeline_result, copy_result


@pytest.fixture
def x_display():
    xvfb = shutil.which("Xvfb")
    require_or_skip(xvfb is not None, "Xvfb not installed (apt-get install xvfb)")
    proc = subprocess.Popen(
        [xvfb, "-displayfd", "1", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        number = proc.stdout.readline().strip()
        assert number.isdigit(), "Xvfb did not report a display number"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.integration
def test_review_window_on_a_real_x_server(x_display, tmp_path_factory, tmp_path):
    piped = cached_pipeline_result(tmp_path_factory)
    folder = copy_result(piped.out, tmp_path / "res")
    png = tmp_path / "xvfb.png"
    env = cli_env()
    env.update(DISPLAY=x_display, QT_QPA_PLATFORM="xcb")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "review",
            str(folder),
            "--screenshot",
            str(png),
            "--size",
            "1200x760",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1200, 760)
    # not a blank grab: the viewer shows the plate, so many distinct colours
    colours = {image.pixel(x, y) for x in range(300, 800, 7) for y in range(150, 550, 7)}
    assert len(colours) > 50
