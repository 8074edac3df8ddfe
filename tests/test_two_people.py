"""`vfxmatte run` on the real two-person clip (frame 0 and its two person masks)."""

import cv2
import numpy as np
from conftest import run_cli

from vfxmatte.io.images import read_image


def test_two_people_frame0_layers(shared_data, tmp_path):
    clip = shared_data / "two-people"
    out = tmp_path / "o" / "tp.####.exr"
    proc = run_cli(
        "run",
        "--plate",
        clip / "frames" / "####.jpg",
        "--mask",
        f"person01={clip / 'masks' / '####_person1.png'}",
        "--mask",
        f"person02={clip / 'masks' / '####_person2.png'}",
        "--frames",
        "0",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    img = read_image(tmp_path / "o" / "tp.0000.exr")
    assert img.data_window.size == (1920, 1080)
    kernel = np.ones((31, 31), np.uint8)
    for name, file in (("person01", "0000_person1.png"), ("person02", "0000_person2.png")):
        mask = cv2.imread(str(clip / "masks" / file), cv2.IMREAD_GRAYSCALE) > 127
        core = cv2.erode(mask.astype(np.uint8), kernel) > 0
        far = cv2.dilate(mask.astype(np.uint8), np.ones((121, 121), np.uint8)) == 0
        alpha = img.channel(f"{name}.A")
        assert alpha[core].mean() > 0.97, name
        assert np.percentile(alpha[core], 1) > 0.8, name
        assert alpha[far].max() < 0.02, name
