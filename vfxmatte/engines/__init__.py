"""Engine registry: engines are imported lazily so a missing optional dependency only disables
that engine, and `vfxmatte info` can still list it with the reason.

Adding an engine is one module (an :class:`Engine` subclass with its ``Options`` model) plus one
:func:`register_engine` call (or one line in ``ENGINE_PATHS`` for the built-in ones).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import ValidationError

from vfxmatte.engines.base import Engine, EngineInput, EngineOptions, EngineOutput
from vfxmatte.errors import BadArgumentError, EngineError

# name -> "module:Class" (imported on first use) or the class itself.
ENGINE_PATHS: dict[str, str | type[Engine]] = {
    "guided": "vfxmatte.engines.guided:GuidedEngine",
    "rvm": "vfxmatte.engines.rvm:RVMEngine",
    "maggie": "vfxmatte.engines.maggie.engine:MaggieEngine",
}

__all__ = [
    "Engine",
    "EngineInput",
    "EngineOptions",
    "EngineOutput",
    "EngineInfo",
    "ENGINE_PATHS",
    "engine_class",
    "create_engine",
    "list_engines",
    "register_engine",
    "validate_engine_options",
    "options_help",
]


@dataclass(frozen=True)
class EngineInfo:
    name: str
    available: bool
    detail: str


def register_engine(name: str, target: str | type[Engine]) -> None:
    """Make an engine available under ``name``: a class, or ``"module:Class"`` imported lazily."""
    ENGINE_PATHS[name] = target


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under ``name``."""
    if name not in ENGINE_PATHS:
        known = ", ".join(sorted(ENGINE_PATHS))
        near = "".join(
            f"did you mean '{m}'? " for m in difflib.get_close_matches(name, ENGINE_PATHS, 1)
        )
        raise BadArgumentError(f"unknown engine '{name}': {near}choose one of {known}")
    target = ENGINE_PATHS[name]
    if not isinstance(target, str):
        return target
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"engine '{name}' cannot be loaded: {exc}") from exc
    return getattr(module, class_name)


def validate_engine_options(name: str, options: Mapping[str, Any] | None) -> EngineOptions:
    """The engine's typed options, or a one-line BadArgumentError naming the valid keys.

    Called before the first frame is read, so a typo (``frobnicate=1``) or a bad value
    (``tile=abc``) costs no render time and is not retried by a farm as an engine failure.
    """
    model = engine_class(name).Options
    try:
        return model.model_validate(dict(options or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first.get("loc") else ""
        valid = sorted(model.model_fields)
        listing = f"valid keys: {', '.join(valid)}" if valid else "it takes no options"
        if first["type"] == "extra_forbidden":
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise BadArgumentError(
                f"--engine-option {key}: engine '{name}' has no such option{hint}; {listing}"
            ) from exc
        value = (options or {}).get(key)
        raise BadArgumentError(
            f"--engine-option {key}={value}: {first['msg']} for engine '{name}'; {listing}"
        ) from exc


def options_help(name: str) -> list[str]:
    """One line per option of engine ``name``: ``key=default  description``."""
    model = engine_class(name).Options
    lines = []
    for key, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        lines.append(f"{key}={'' if default is None else default}  {field.description or ''}")
    return lines


def create_engine(
    name: str, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
) -> Engine:
    """Instantiate an engine, raising a one-line error when its options are wrong (exit 2) or it
    cannot run here (EngineError)."""
    validate_engine_options(name, options)
    cls = engine_class(name)
    ok, detail = cls.availability(options)
    if not ok:
        raise EngineError(f"engine '{name}' is not available: {detail}")
    return cls(device=device, options=options)


def list_engines() -> list[EngineInfo]:
    """Every registered engine with whether it can run here and why not."""
    infos = []
    for name in sorted(ENGINE_PATHS):
        try:
            ok, detail = engine_class(name).availability()
        except EngineError as exc:
            ok, detail = False, str(exc)
        infos.append(EngineInfo(name, ok, detail))
    return infos
