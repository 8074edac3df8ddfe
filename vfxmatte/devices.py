"""Device selection: ``auto`` picks CUDA when present, CPU otherwise."""

from __future__ import annotations

import torch

from vfxmatte.errors import BadArgumentError


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a torch device, refusing CUDA that is not there."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BadArgumentError(
                f"--device {spec}: no CUDA device is available here; use --device cpu or auto"
            )
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadArgumentError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
        return device
    raise BadArgumentError(f"--device {spec}: expected auto, cpu, cuda or cuda:N")


def describe_devices() -> list[str]:
    """Human-readable list of the devices torch can use here."""
    names = ["cpu"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            names.append(f"cuda:{i} ({torch.cuda.get_device_name(i)})")
    return names
