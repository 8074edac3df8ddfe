"""The few Nuke calls the plugin needs, as an interface the logic receives.

``glue.NukeApiHost`` implements it with the real ``nuke`` module; tests implement it with an
in-memory node graph. Keeping Nuke behind these methods is what lets every decision (what to
render, which job to send, which nodes to create) be tested without a Nuke licence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class InputInfo:
    """A node connected to one input of the VfxMatte node."""

    index: int
    name: str  # node name, e.g. "Roto1"
    node_class: str  # e.g. "Roto", "RotoPaint", "Read"
    label: str = ""  # the node's label knob: used as the person's name when set


@dataclass(frozen=True)
class RenderSpec:
    """Render input ``index`` of the VfxMatte node to ``path`` (a #### EXR pattern)."""

    index: int
    source: str
    path: str
    channels: str  # "rgba", "rgb" or "alpha"
    datatype: str  # "16 bit half" or "32 bit float" (ids must stay exact)
    first: int
    last: int


@dataclass
class NodeSpec:
    """A node to create: class, knob values, and which earlier spec feeds its input 0."""

    node_class: str
    knobs: dict[str, Any] = field(default_factory=dict)
    input_from: int | None = None  # index into the list of specs, None = unconnected
    label: str = ""


class Progress(Protocol):
    def set(self, percent: int, message: str) -> None: ...

    def cancelled(self) -> bool: ...

    def close(self) -> None: ...


class NukeHost(Protocol):
    def knob(self, node: Any, name: str) -> Any:
        """The value of a knob on the VfxMatte node."""

    def inputs(self, node: Any) -> list[InputInfo]:
        """The connected inputs of the VfxMatte node, in input order."""

    def root_range(self) -> tuple[int, int]:
        """The script's first and last frame."""

    def render(self, node: Any, spec: RenderSpec) -> None:
        """Write the input ``spec.index`` of ``node`` to EXR files (a temporary Write, executed)."""

    def create_nodes(self, node: Any, specs: list[NodeSpec]) -> list[Any]:
        """Create the nodes below ``node``, connected as the specs say; return them."""

    def progress(self, title: str) -> Progress:
        """A progress task the artist can cancel."""

    def message(self, text: str) -> None:
        """Tell the artist something (an error, or where the result is)."""
