"""The Nuke plugin's logic driven through its injected host interface (no Nuke here).

``FakeNuke`` *is* an implementation of ``vfxmatte_nuke.host.NukeHost``: an in-memory node graph
whose ``render`` writes real EXRs the way a Nuke Write does, so the job really runs on a real
service and the Read/Shuffle specs are checked against the real result files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPO_ROOT
from service_helpers import free_port, start_service

from vfxmatte.demo import make_demo_shot
from vfxmatte.io.images import Window, read_image, write_exr
from vfxmatte_client import ServiceClient
from vfxmatte_client.client import frame_path

sys.path.insert(0, str(REPO_ROOT / "nuke_plugin"))
from vfxmatte_nuke import logic  # noqa: E402
from vfxmatte_nuke.host import InputInfo, NodeSpec, RenderSpec  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@dataclass
class FakeNode:
    name: str
    node_class: str
    label: str = ""
    frames: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # channel -> (H, W)


@dataclass
class FakeGroup:
    knobs: dict[str, Any]
    inputs: dict[int, FakeNode]


class FakeProgress:
    def __init__(self, log: list, cancel_at: int | None = None):
        self.log, self.cancel_at, self.closed = log, cancel_at, False

    def set(self, percent: int, message: str) -> None:
        self.log.append((percent, message))

    def cancelled(self) -> bool:
        return self.cancel_at is not None and len(self.log) >= self.cancel_at

    def close(self) -> None:
        self.closed = True


class FakeNuke:
    """A NukeHost over an in-memory script: renders write EXRs, created nodes are recorded."""

    def __init__(self, root_range=(1001, 1002)):
        self.range = root_range
        self.renders: list[RenderSpec] = []
        self.created: list[NodeSpec] = []
        self.messages: list[str] = []
        self.progress_log: list = []
        self.tasks: list[FakeProgress] = []

    def knob(self, node: FakeGroup, name: str) -> Any:
        return node.knobs.get(name)

    def inputs(self, node: FakeGroup) -> list[InputInfo]:
        return [InputInfo(i, n.name, n.node_class, n.label) for i, n in sorted(node.inputs.items())]

    def root_range(self) -> tuple[int, int]:
        return self.range

    def render(self, node: FakeGroup, spec: RenderSpec) -> None:
        source = node.inputs[spec.index]
        wanted = {"rgba": "RGBA", "rgb": "RGB", "alpha": "A"}[spec.channels]
        pixel_type = "float" if spec.datatype == "32 bit float" else "half"
        for f in range(spec.first, spec.last + 1):
            chans = {c: v for c, v in source.frames[f].items() if c in wanted}
            h, w = next(iter(chans.values())).shape
            win = Window(0, 0, w, h)
            write_exr(frame_path(spec.path, f), chans, win, win, pixel_type=pixel_type)
        self.renders.append(spec)

    def create_nodes(self, node: FakeGroup, specs: list[NodeSpec]) -> list[NodeSpec]:
        self.created.extend(specs)
        return specs

    def progress(self, title: str) -> FakeProgress:
        self.tasks.append(FakeProgress(self.progress_log))
        return self.tasks[-1]

    def message(self, text: str) -> None:
        self.messages.append(text)


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """A plate Read and two Rotos (labelled) holding the demo shot's pixels, frames 1001-1002."""
    shot = make_demo_shot(tmp_path_factory.mktemp("nuke-shot"), frames=2, width=160, height=90)
    plate = FakeNode("Read1", "Read")
    rotos = [FakeNode("Roto1", "Roto", "hero"), FakeNode("RotoPaint2", "RotoPaint")]
    idmap = FakeNode("IDs", "Read")
    for f in shot.frames:
        img = read_image(frame_path(shot.plate, f))
        plate.frames[f] = {c: img.channel(c) for c in "RGB"} | {"A": np.ones(img.pixels.shape[:2])}
        ids = np.zeros(img.pixels.shape[:2], np.float32)
        for k, (roto, name) in enumerate(zip(rotos, shot.masks, strict=True), start=1):
            mask = read_image(frame_path(shot.masks[name], f)).single_channel()
            roto.frames[f] = {c: mask for c in "RGBA"}
            ids[mask > 0.5] = k
        idmap.frames[f] = {"R": ids, "G": ids, "B": ids, "A": np.ones_like(ids)}
    return plate, rotos, idmap


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = start_service(tmp_path_factory.mktemp("nuke-svc"), [])
    yield svc
    svc.stop()


def group(service, tmp_path: Path, inputs: dict, **knobs) -> FakeGroup:
    values = {
        "mode": "roto",
        "first": 0,
        "last": 0,
        "engine": "guided",
        "device": "cpu",
        "url": service.url if service else "",
        "token_file": str(service.token_file) if service else "",
        "transfer": "auto",
        "work_dir": str(tmp_path / "work"),
    }
    return FakeGroup(values | knobs, inputs)


class RecordingClient(ServiceClient):
    """The real client, keeping each job request it sends."""

    sent: list[dict] = []

    def submit(self, request: dict) -> str:
        self.sent.append(request)
        return super().submit(request)


def test_roto_inputs_make_a_job_and_a_read_with_shuffles(script, service, tmp_path):
    plate, rotos, _ = script
    host = FakeNuke()
    node = group(service, tmp_path, {0: plate, 1: rotos[0], 2: rotos[1]})
    made = logic.run(host, node, lambda url, tok: RecordingClient(url, token_file=tok))
    assert host.messages == []
    # The job sent: the rendered plate and one mask per Roto, uploaded (the service has no roots).
    request = RecordingClient.sent[-1]
    assert request["masks"] == {
        "hero": "mask_hero.####.exr",
        "RotoPaint2": "mask_RotoPaint2.####.exr",
    }
    assert request["plate"] == "plate.####.exr" and request["upload"]
    assert request["frames"] == "1001,1002" and request["id_map"] is None
    assert (request["engine"], request["device"], request["full_frame"]) == ("guided", "cpu", True)
    # What was rendered: the plate in rgba, each Roto's alpha, over the script range.
    assert [(r.index, r.source, r.channels) for r in host.renders] == [
        (0, "Read1", "rgba"),
        (1, "Roto1", "alpha"),
        (2, "RotoPaint2", "alpha"),
    ]
    assert all((r.first, r.last) == (1001, 1002) for r in host.renders)
    assert Path(host.renders[1].path).name == "mask_hero.####.exr"  # label names the person
    # What was created: a Read of the result and a Shuffle per person layer.
    read, *shuffles = made
    assert read.node_class == "Read" and read.input_from is None
    assert read.knobs["first"] == read.knobs["origfirst"] == 1001
    assert read.knobs["last"] == read.knobs["origlast"] == 1002
    assert read.knobs["raw"] is True and read.knobs["file"].endswith("matte.####.exr")
    assert [(s.node_class, s.knobs["in"], s.input_from, s.label) for s in shuffles] == [
        ("Shuffle", "hero", 0, "hero"),
        ("Shuffle", "RotoPaint2", 0, "RotoPaint2"),
    ]
    assert all(s.knobs["alpha"] == s.knobs["red"] == "alpha" for s in shuffles)
    # The Read's file holds exactly those layers, on both frames.
    for f in (1001, 1002):
        img = read_image(frame_path(read.knobs["file"], f))
        assert {"hero.A", "RotoPaint2.A", "A"} <= set(img.channels)
        assert img.channel("hero.A").max() > 0.9
    assert host.progress_log[-1][0] == 100 and host.tasks[-1].closed


def test_id_map_input_makes_an_id_job(script, service, tmp_path):
    plate, _, idmap = script
    host = FakeNuke(root_range=(1002, 1002))
    node = group(service, tmp_path, {0: plate, 1: idmap}, mode="idmap")
    plan = logic.plan_job(host, node)
    assert plan.masks == {} and plan.id_map and plan.frames == [1002]
    assert [(r.channels, r.datatype) for r in plan.renders] == [
        ("rgba", "16 bit half"),
        ("rgb", "32 bit float"),
    ]
    read, *shuffles = logic.run(host, node)
    assert [s.knobs["in"] for s in shuffles] == ["person01", "person02"]
    assert read.knobs["first"] == read.knobs["last"] == 1002


def test_plan_errors_are_messages(script, tmp_path):
    plate, rotos, idmap = script
    host = FakeNuke()
    cases = [
        ({1: rotos[0]}, {}, "plate"),
        ({0: plate}, {}, "one Roto or RotoPaint per person"),
        (
            {0: plate, 1: rotos[0], 2: FakeNode("x", "Roto", "hero")},
            {},
            "two people are named hero",
        ),
        ({0: plate, 1: rotos[0], 2: idmap}, {"mode": "idmap"}, "exactly one ID map"),
        ({0: plate, 1: rotos[0]}, {"first": 10, "last": 5}, "before first"),
    ]
    for inputs, knobs, expected in cases:
        host.messages.clear()
        assert logic.run(host, group(None, tmp_path, inputs, **knobs)) == []
        assert expected in host.messages[-1], host.messages
    assert host.renders == []


def test_no_service_says_how_to_start_it(script, tmp_path):
    plate, rotos, _ = script
    host = FakeNuke()
    port = free_port()
    node = group(None, tmp_path, {0: plate, 1: rotos[0]}, url=f"http://127.0.0.1:{port}")
    assert logic.run(host, node) == []
    assert f"vfxmatte serve --port {port}" in host.messages[-1]
    assert host.renders == [] and host.tasks[-1].closed  # nothing rendered for nothing


def test_layer_names():
    info = lambda name, label="": InputInfo(1, name, "Roto", label)  # noqa: E731
    assert logic.layer_name(info("Roto1"), 1) == "Roto1"
    assert logic.layer_name(info("Roto1", "Left guy"), 1) == "Left_guy"
    assert logic.layer_name(info("Roto1", "1st"), 1) == "p_1st"
    assert logic.layer_name(info("", ""), 3) == "person03"


def test_client_is_the_one_shared_source():
    assert ServiceClient.__module__ == "vfxmatte_client.client"
    assert not (REPO_ROOT / "nuke_plugin" / "vfxmatte_client").exists()
    assert not (REPO_ROOT / "blender_addon" / "vfxmatte_client").exists()
