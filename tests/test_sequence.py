"""Frame specs and sequence paths: the contract of DESIGN.md (frames keep their numbers)."""

import pytest

from vfxmatte.errors import BadArgumentError
from vfxmatte.sequence import SequencePath, format_frames, parse_frames


@pytest.mark.parametrize(
    ("spec", "frames"),
    [
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1009x2", [1001, 1003, 1005, 1007, 1009]),
        ("1-3,20-22", [1, 2, 3, 20, 21, 22]),
        ("7", [7]),
        ("5,3,5", [3, 5]),
    ],
)
def test_frame_specs(spec, frames):
    assert parse_frames(spec) == frames


@pytest.mark.parametrize("spec", ["", "abc", "1001-", "10-1x"])
def test_bad_frame_specs_are_one_line_errors(spec):
    with pytest.raises(BadArgumentError) as err:
        parse_frames(spec)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("pattern", "frame", "expected"),
    [
        ("plate.####.exr", 1001, "plate.1001.exr"),
        ("plate.####.exr", 7, "plate.0007.exr"),
        ("plate.#.exr", 7, "plate.7.exr"),  # '#' is one digit, as in Nuke
        ("plate.%04d.dpx", 42, "plate.0042.dpx"),
        ("plate.%d.dpx", 42, "plate.42.dpx"),
        ("plate.@@@.png", 5, "plate.005.png"),
        ("plate.$F4.exr", 12, "plate.0012.exr"),
        ("masks/####_person1.png", 3, "masks/0003_person1.png"),
        ("shot_010/plate.####.exr", 1001, "shot_010/plate.1001.exr"),
        ("still.png", 1001, "still.png"),
    ],
)
def test_sequence_paths(pattern, frame, expected):
    assert str(SequencePath(pattern).path(frame)) == expected


def test_frames_on_disk_keep_numbers(tmp_path):
    for f in (1001, 1002, 1005):
        (tmp_path / f"plate.{f:04d}.exr").write_bytes(b"x")
    (tmp_path / "plate.12.exr").write_bytes(b"x")  # wrong padding: not part of ####
    (tmp_path / "other.1003.exr").write_bytes(b"x")
    seq = SequencePath(str(tmp_path / "plate.####.exr"))
    assert seq.frames_on_disk() == [1001, 1002, 1005]
    assert format_frames(seq.frames_on_disk()) == "1001-1002,1005"
