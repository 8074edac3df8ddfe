"""What the VfxMatte node does, host-independent: render inputs, submit, show progress, make nodes.

Input 0 is the plate. In ``roto`` mode every further input is one person (a Roto or RotoPaint; its
label, else its node name, becomes the layer name); in ``idmap`` mode input 1 is an integer ID map.
The result is a Read of the multilayer EXR and one Shuffle per person layer (alpha into rgba).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vfxmatte_client import JOB_DEFAULTS, ServiceClient, ServiceError

from .host import InputInfo, NodeSpec, NukeHost, RenderSpec

MODES = ("roto", "idmap")
ROTO_CLASSES = {"Roto", "RotoPaint", "SplineWarp3"}

# The VfxMatte node's knobs: (name, kind, label, default). glue builds them on a Group.
KNOBS: list[tuple[str, str, str, Any]] = [
    ("mode", "enum", "masks from", MODES),
    ("first", "int", "first frame", 0),
    ("last", "int", "last frame", 0),
    ("engine", "string", "engine", JOB_DEFAULTS["engine"]),
    ("device", "string", "device", JOB_DEFAULTS["device"]),
    ("url", "string", "service URL", ""),
    ("token_file", "file", "token file", ""),
    ("transfer", "enum", "transfer", ("auto", "paths", "upload")),
    ("work_dir", "file", "work folder", ""),
]


class PlanError(Exception):
    """Something the artist can fix in the script (missing input, bad names)."""


@dataclass
class JobPlan:
    renders: list[RenderSpec]
    plate: str
    masks: dict[str, str]
    id_map: str | None
    frames: list[int]
    work: str


def layer_name(info: InputInfo, index: int) -> str:
    """A Nuke- and Blender-safe layer name for a person input (label first, node name else)."""
    raw = (info.label or info.name).strip().splitlines()[0] if (info.label or info.name) else ""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", raw).strip("_")
    if not clean:
        return f"person{index:02d}"
    return clean if not clean[0].isdigit() else f"p_{clean}"


def plan_job(host: NukeHost, node: Any) -> JobPlan:
    """Decide what to render and what to send, from the node's inputs and knobs."""
    mode = str(host.knob(node, "mode") or "roto")
    if mode not in MODES:
        raise PlanError(f"mode must be one of {', '.join(MODES)}, not {mode}")
    inputs = host.inputs(node)
    by_index = {i.index: i for i in inputs}
    if 0 not in by_index:
        raise PlanError("connect the plate to input 0 (plate)")
    first, last = int(host.knob(node, "first") or 0), int(host.knob(node, "last") or 0)
    if first == last == 0:
        first, last = host.root_range()
    if last < first:
        raise PlanError(f"last frame {last} is before first frame {first}")
    work = str(host.knob(node, "work_dir") or "")
    if work:
        os.makedirs(work, exist_ok=True)
    work = tempfile.mkdtemp(prefix=time.strftime("vfxmatte-%Y%m%d-%H%M%S-"), dir=work or None)

    def spec(info: InputInfo, stem: str, channels: str, datatype: str) -> RenderSpec:
        path = os.path.join(work, f"{stem}.####.exr")
        return RenderSpec(info.index, info.name, path, channels, datatype, first, last)

    renders = [spec(by_index[0], "plate", "rgba", "16 bit half")]
    masks: dict[str, str] = {}
    id_map = None
    people = [i for i in inputs if i.index > 0]
    if mode == "idmap":
        if len(people) != 1:
            raise PlanError("idmap mode: connect exactly one ID map to input 1")
        renders.append(spec(people[0], "idmap", "rgb", "32 bit float"))  # A would shadow R
        id_map = renders[-1].path
    else:
        if not people:
            raise PlanError("connect one Roto or RotoPaint per person to inputs 1, 2, ...")
        for n, info in enumerate(people, start=1):
            name = layer_name(info, n)
            if name in masks:
                raise PlanError(f"two people are named {name}: set distinct labels on the Rotos")
            renders.append(spec(info, f"mask_{name}", "alpha", "16 bit half"))
            masks[name] = renders[-1].path
    return JobPlan(renders, renders[0].path, masks, id_map, list(range(first, last + 1)), work)


def result_nodes(pattern: str, names: list[str], first: int, last: int) -> list[NodeSpec]:
    """A Read of the result and one Shuffle per person: the person's alpha in rgb and alpha."""
    nuke_pattern = pattern  # Nuke reads #### directly
    specs = [
        NodeSpec(
            "Read",
            {
                "file": nuke_pattern.replace(os.sep, "/"),
                "first": first,
                "last": last,
                "origfirst": first,
                "origlast": last,
                "raw": True,  # alpha is data: no colour transform on read
                "on_error": "black",
            },
            label="vfxmatte",
        )
    ]
    for name in names:
        specs.append(
            NodeSpec(
                "Shuffle",
                {"in": name, "red": "alpha", "green": "alpha", "blue": "alpha", "alpha": "alpha"},
                input_from=0,
                label=name,
            )
        )
    return specs


ClientFactory = Callable[[str, str], ServiceClient]


def default_client(url: str, token_file: str) -> ServiceClient:
    return ServiceClient(url or None, token_file=token_file or None)


def run(host: NukeHost, node: Any, client_factory: ClientFactory = default_client) -> list[Any]:
    """The VfxMatte button: render inputs, submit, follow progress, create Read + Shuffles."""
    try:
        plan = plan_job(host, node)
    except PlanError as exc:
        host.message(f"VfxMatte: {exc}")
        return []
    client = client_factory(
        str(host.knob(node, "url") or ""), str(host.knob(node, "token_file") or "")
    )
    task = host.progress("VfxMatte")
    try:
        try:
            client.health()  # fail before rendering anything when no service answers
        except ServiceError as exc:
            host.message(f"VfxMatte: {exc}")
            return []
        for i, render in enumerate(plan.renders):
            task.set(int(20 * i / len(plan.renders)), f"rendering {render.source}")
            if task.cancelled():
                return []
            host.render(node, render)

        def progress(status) -> None:
            task.set(20 + int(80 * status.fraction), f"{status.state} {status.done}/{status.total}")

        try:
            status, pattern = client.matte(
                plan.plate,
                plan.masks or None,
                plan.frames,
                os.path.join(plan.work, "result"),
                id_map=plan.id_map,
                engine=str(host.knob(node, "engine") or JOB_DEFAULTS["engine"]),
                device=str(host.knob(node, "device") or JOB_DEFAULTS["device"]),
                transfer=str(host.knob(node, "transfer") or "auto"),
                on_progress=progress,
                should_cancel=task.cancelled,
            )
        except ServiceError as exc:
            host.message(f"VfxMatte: {exc}")
            return []
        if status.state != "done":
            host.message(f"VfxMatte: job {status.state}: {status.error or 'no detail'}")
            return []
        specs = result_nodes(pattern, status.names, plan.frames[0], plan.frames[-1])
        return host.create_nodes(node, specs)
    finally:
        task.close()
