"""Engine options typed from text (``search_k=0.5``): shared by the CLI, the review panel, the farm.

Parsing only turns text into numbers and booleans; whether a key exists and its value fits is
the engine's options model's to say (:func:`vfxmatte.engines.validate_engine_options`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vfxmatte.errors import BadArgumentError


def parse_engine_options(items: Iterable[str], what: str = "--engine-option") -> dict[str, Any]:
    """``["search_k=0.5", "fine_iters=40", "two_pass=false"]`` -> ``{"search_k": 0.5, ...}``.

    Integers and floats are parsed, ``true``/``false`` become booleans, the rest stays text.
    """
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadArgumentError(f"{what} {item}: expected KEY=VALUE")
        for cast in (int, float):
            try:
                parsed[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            parsed[key] = {"true": True, "false": False}.get(value.lower(), value)
    return parsed
