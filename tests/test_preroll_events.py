"""A chunk's pre-roll and the smoother's look-ahead share one loop (Job._push_unwritten): the
same events, nothing written outside the range (a tiny PNG shot: seconds)."""

from __future__ import annotations

import cv2
import numpy as np

H, W = 48, 64


def _shot(root) -> tuple[str, str]:
    (root / "plate").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    for f in range(1001, 1008):
        disc = np.hypot(xx - 20 - 2 * (f - 1001), yy - 24) < 10
        plate = np.stack([xx / W, yy / H, 0.3 + 0 * xx], -1) * 200
        plate[disc] = (40, 60, 230)
        cv2.imwrite(str(root / "plate" / f"p.{f}.png"), plate.astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"m.{f}.png"), disc.astype(np.uint8) * 255)
    return str(root / "plate" / "p.####.png"), str(root / "masks" / "m.####.png")


def test_preroll_and_look_ahead_events_and_writes(tmp_path, cli):
    plate, mask = _shot(tmp_path)
    out = tmp_path / "out" / "o.####.exr"
    r = cli("run", "--plate", plate, "--mask", f"person01={mask}", "--out", out,
            "--frames", "1004-1005", "--preroll", "3", "--device", "cpu", "--threads", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    for i, f in ((1, 1001), (2, 1002), (3, 1003)):
        assert f"frame={f} " in text and f"pre-roll {i}/3, not written" in text
    for f in (1006, 1007):  # the smoother's look-ahead after the last written frame
        assert f"frame={f} " in text
    assert "temporal look-ahead for 1005, not written" in text
    written = sorted(p.name for p in out.parent.iterdir())
    assert written == ["o.1004.exr", "o.1005.exr"]
