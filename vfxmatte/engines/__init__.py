"""Engine registry: engines are imported lazily so a missing optional dependency only disables
that engine, and `vfxmatte info` can still list it with the reason."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from vfxmatte.engines.base import Engine, EngineInput
from vfxmatte.errors import BadArgumentError, EngineError

# name -> "module:Class"; engines add themselves here.
ENGINE_PATHS: dict[str, str] = {
    "guided": "vfxmatte.engines.guided:GuidedEngine",
    "rvm": "vfxmatte.engines.rvm:RVMEngine",
    "maggie": "vfxmatte.engines.maggie.engine:MaggieEngine",
}

__all__ = [
    "Engine",
    "EngineInput",
    "EngineInfo",
    "ENGINE_PATHS",
    "engine_class",
    "create_engine",
    "list_engines",
]


@dataclass(frozen=True)
class EngineInfo:
    name: str
    available: bool
    detail: str


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under ``name``."""
    if name not in ENGINE_PATHS:
        known = ", ".join(sorted(ENGINE_PATHS))
        raise BadArgumentError(f"unknown engine '{name}': choose one of {known}")
    module_name, class_name = ENGINE_PATHS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"engine '{name}' cannot be loaded: {exc}") from exc
    return getattr(module, class_name)


def create_engine(
    name: str, device: torch.device | str = "cpu", options: Mapping[str, Any] | None = None
) -> Engine:
    """Instantiate an engine, raising a one-line EngineError when it cannot run here."""
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
