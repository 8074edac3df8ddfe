"""Small synthetic shots and shot-list files for the farm tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from vfxmatte.demo import DemoShot, make_demo_shot


def demo_shots(root: Path, sizes: list[int], width: int = 256, height: int = 144) -> list[DemoShot]:
    """One generated two-person shot per entry of ``sizes`` (frame counts), distinct seeds."""
    return [
        make_demo_shot(root / f"src{i}", frames=n, width=width, height=height, seed=11 + i)
        for i, n in enumerate(sizes)
    ]


def shot_entry(demo: DemoShot, name: str, out: str, **extra) -> dict:
    entry = {
        "name": name,
        "plate": demo.plate,
        "masks": dict(demo.masks),
        "out": out,
        "frames": f"{demo.frames[0]}-{demo.frames[-1]}",
    }
    entry.update(extra)
    return entry


def write_shot_list(path: Path, shots: list[dict], defaults: dict | None = None) -> Path:
    # Smoothing off: these tests compare chunked farm output with a single run to 2e-3; how
    # chunks with pre-roll match under smoothing is the video tests' (stated) tolerance.
    doc = {
        "defaults": defaults or {"engine": "guided", "device": "cpu", "temporal_strength": 0.0},
        "shots": shots,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
