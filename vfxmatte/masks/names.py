"""Layer names that survive Nuke and Blender: letters, digits, underscore, no leading digit.

Nuke splits channel names at the first dot into layer.channel and only accepts identifier-like
layer names; Blender's multilayer EXR reader treats each ``<layer>.A`` as its own pass. A name
like ``person 1`` or ``01`` would merge layers or be renamed on import, so we sanitise once here.
"""

from __future__ import annotations

import re

_BAD = re.compile(r"[^A-Za-z0-9_]+")
RESERVED = {"A", "R", "G", "B", "Z", "rgba", "rgb", "alpha", "depth"}


def sanitize_layer_name(name: str) -> str:
    """``"Person 1.v2"`` -> ``"Person_1_v2"``; ``"01"`` -> ``"p01"``; empty -> ``"person"``."""
    clean = _BAD.sub("_", name.strip()).strip("_")
    if not clean:
        clean = "person"
    if clean[0].isdigit():
        clean = "p" + clean
    if clean in RESERVED:
        clean = f"{clean}_layer"
    return clean


def unique_layer_names(names: list[str]) -> list[str]:
    """Sanitise and de-duplicate, keeping order (``a``, ``a`` -> ``a``, ``a_2``)."""
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        base = sanitize_layer_name(raw)
        candidate = base
        while candidate in seen:
            seen[base] += 1
            candidate = f"{base}_{seen[base]}"
        seen.setdefault(candidate, 1)
        out.append(candidate)
    return out


def id_layer_name(instance_id: int) -> str:
    """Stable layer name for an ID-map id, the same on every frame and farm chunk."""
    return f"person{instance_id:02d}"
