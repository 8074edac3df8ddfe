"""maggie checkpoints: safetensors files that carry their own architecture, and the RVM start.

A checkpoint holds the network's tensors under ``net.``, optionally the optimiser's moments under
``optim.`` (so ``--resume`` continues the same AdamW run), and string metadata: ``maggie:config``
(the :class:`MaggieConfig` JSON), ``maggie:step``, ``maggie:init`` (what the weights started from)
and free-form training notes. safetensors holds no code, so a checkpoint from anyone is safe to
open, unlike a pickled ``.pth``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vfxmatte import models
from vfxmatte.engines.maggie.config import MaggieConfig
from vfxmatte.engines.maggie.model import MaggieNet
from vfxmatte.errors import BadArgumentError, EngineError

FORMAT = "vfxmatte-maggie-1"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the network (on CPU), its step and metadata, optimiser state if any."""

    net: MaggieNet
    step: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    optimizer: dict | None = None


def init_from_rvm(net: MaggieNet, weights: str | os.PathLike[str] | None = None) -> str:
    """Load RVM's MobileNetV3 backbone and LR-ASPP into ``net``'s encoder; returns a note.

    Initialised: every encoder weight (backbone convolutions, batch norms, squeeze-excite, the
    LR-ASPP), with the stem's extra ID-map input channels at zero. Random: the ID embedding, the
    pixel decoder and its ConvGRU, the instance tokens and decoder, both refiners.
    """
    from vfxmatte.engines.rvm import _cached_state_dict

    path, source = models.require_rvm_weights(weights)
    loaded = net.encoder.load_rvm(_cached_state_dict(path))
    return f"encoder from RVM MobileNetV3 ({source}, {len(loaded)} tensors)"


def _optimizer_tensors(state: dict) -> tuple[dict[str, torch.Tensor], str]:
    tensors = {}
    for idx, slot in state["state"].items():
        for key, value in slot.items():
            value = value if torch.is_tensor(value) else torch.tensor(float(value))
            tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
    return tensors, json.dumps(state["param_groups"])


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: str) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": json.loads(groups)}


def save(
    path: str | os.PathLike[str],
    net: MaggieNet,
    step: int = 0,
    metadata: dict[str, str] | None = None,
    optimizer: dict | None = None,
) -> Path:
    """Write atomically (temp file + rename), so a killed training never leaves half a file."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = dict(metadata or {})
    meta.update({"format": FORMAT, "maggie:config": net.config.to_json(), "maggie:step": str(step)})
    if optimizer is not None:
        extra, groups = _optimizer_tensors(optimizer)
        tensors.update(extra)
        meta["maggie:optim_groups"] = groups
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path: str | os.PathLike[str], with_optimizer: bool = False) -> Checkpoint:
    """Read a checkpoint; any unreadable or foreign file is a one-line error naming it."""
    from safetensors import safe_open

    path = Path(path).expanduser()
    if not path.is_file():
        raise BadArgumentError(f"--weights {path}: no such file; give a maggie .safetensors")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise EngineError(
                    f"{path}: not a maggie checkpoint (format {meta.get('format')!r}); "
                    "train one with `vfxmatte train` or `vfxmatte finetune`"
                )
            names = list(f.keys())
            tensors = {n: f.get_tensor(n) for n in names if n.startswith("net.")}
            optim = (
                {n: f.get_tensor(n) for n in names if n.startswith("optim.")}
                if with_optimizer
                else {}
            )
    except EngineError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file is one user problem
        raise EngineError(f"{path}: cannot read the checkpoint ({exc})") from exc
    try:
        net = MaggieNet(MaggieConfig.from_json(meta["maggie:config"]))
        net.load_state_dict({k.removeprefix("net."): v for k, v in tensors.items()})
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0]
        raise EngineError(f"{path}: checkpoint does not match its config ({first})") from exc
    optimizer = None
    if with_optimizer and optim and "maggie:optim_groups" in meta:
        optimizer = _optimizer_state(optim, meta["maggie:optim_groups"])
    return Checkpoint(net.eval(), int(meta.get("maggie:step", 0)), meta, optimizer)
