"""Cryptomatte layers for the per-person mattes, so Nuke's and Blender's Cryptomatte nodes pick
people by name.

Follows the public Cryptomatte specification (1.1): each name is hashed with MurmurHash3_x86_32
(seed 0) and the 32 bits are stored as a float32 whose exponent is clamped to 1..254 (no zero,
denormal, inf or NaN ids); per pixel the people are ranked by coverage and the (id, coverage)
pairs go to ``<typename>00.R/G/B/A``, ``<typename>01.R/G/B/A``...; the header carries
``cryptomatte/<key>/name|hash|conversion|manifest`` with ``<key>`` the first 7 hex digits of the
type name's own hash. Coverage is the person's alpha (people's alphas sum to at most the union
after instance consistency, as a renderer's normalised sample weights do).

:func:`decode` reads a layer back without the encoder's hashing: it takes each id from the
manifest's hex, as a compositor's Cryptomatte node does.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence

import mmh3
import numpy as np

TYPENAME = "CryptoPerson"
HASH = "MurmurHash3_32"
CONVERSION = "uint32_to_float32"
MAX_LEVELS = 6  # the specification's suggested default: three numbered layers


def name_bits(name: str) -> int:
    """The 32-bit pattern of a name's id: its MurmurHash3 with the exponent clamped to 1..254."""
    bits = mmh3.hash(name.encode("utf-8"), 0, signed=False)
    exponent = min(max((bits >> 23) & 0xFF, 1), 254)
    return (bits & ~(0xFF << 23)) | (exponent << 23)


def name_id(name: str) -> float:
    """A name's id as the float32 the pixels hold."""
    return struct.unpack("<f", struct.pack("<I", name_bits(name)))[0]


def metadata_key(typename: str = TYPENAME) -> str:
    """The 7-character header key of a Cryptomatte type: stable across frames and shots."""
    return f"{mmh3.hash(typename.encode('utf-8'), 0, signed=False):08x}"[:7]


def manifest(names: Sequence[str]) -> dict[str, str]:
    """Name -> 8 hex digits of its id's float bits."""
    return {name: f"{name_bits(name):08x}" for name in names}


def header(names: Sequence[str], typename: str = TYPENAME) -> dict[str, str]:
    """The EXR header attributes that declare one Cryptomatte type and its manifest."""
    prefix = f"cryptomatte/{metadata_key(typename)}/"
    return {
        prefix + "name": typename,
        prefix + "hash": HASH,
        prefix + "conversion": CONVERSION,
        prefix + "manifest": json.dumps(manifest(names), separators=(",", ":")),
    }


def levels_for(count: int) -> int:
    """Ranks stored per pixel: one pair per person up to the specification's six, always even."""
    return min(MAX_LEVELS, 2 * math.ceil(max(count, 1) / 2))


def channel_names(count: int, typename: str = TYPENAME) -> list[str]:
    """``CryptoPerson00.R``, ``.G``, ``.B``, ``.A``, ``CryptoPerson01.R``... for ``count`` people."""
    return [f"{typename}{i:02d}.{c}" for i in range(levels_for(count) // 2) for c in "RGBA"]


def encode(
    alphas: np.ndarray, names: Sequence[str], typename: str = TYPENAME
) -> dict[str, np.ndarray]:
    """Rank-ordered (id, coverage) channels, float32, from (N, H, W) per-person alphas.

    Where the alphas sum past 1 they are scaled to sum to 1 (coverage is a share of the pixel).
    Pixels with no person hold id 0 and coverage 0, as the specification asks.
    """
    alphas = np.clip(np.asarray(alphas, dtype=np.float32), 0.0, 1.0)
    if alphas.ndim != 3 or alphas.shape[0] != len(names):
        raise ValueError(f"expected ({len(names)}, H, W) alphas, got {alphas.shape}")
    total = alphas.sum(axis=0)
    alphas = alphas / np.maximum(total, 1.0)[None]
    ids = np.array([name_id(n) for n in names], dtype=np.float32)
    order = np.argsort(-alphas, axis=0, kind="stable")  # rank 0: the largest coverage
    ranked_cov = np.take_along_axis(alphas, order, axis=0)
    ranked_id = np.where(ranked_cov > 0.0, ids[order], np.float32(0.0))
    levels = levels_for(len(names))
    height, width = alphas.shape[1:]
    zero = np.zeros((height, width), np.float32)
    channels: dict[str, np.ndarray] = {}
    for rank in range(levels):
        layer, pair = divmod(rank, 2)
        has = rank < len(names)
        id_channel, cov_channel = ("R", "G") if pair == 0 else ("B", "A")
        channels[f"{typename}{layer:02d}.{id_channel}"] = ranked_id[rank] if has else zero
        channels[f"{typename}{layer:02d}.{cov_channel}"] = ranked_cov[rank] if has else zero
    return channels


def decode(
    channels: Mapping[str, np.ndarray], attributes: Mapping[str, str], name: str
) -> np.ndarray:
    """One name's matte from a Cryptomatte layer: the summed coverage of every rank whose id is
    the manifest's id for ``name``. Independent of :func:`encode`: ids come from the header."""
    types = {
        key.split("/")[1]: value
        for key, value in attributes.items()
        if key.startswith("cryptomatte/") and key.endswith("/name")
    }
    for key, typename in types.items():
        entries = json.loads(attributes.get(f"cryptomatte/{key}/manifest", "{}"))
        if name not in entries:
            continue
        wanted = np.frombuffer(bytes.fromhex(entries[name]), dtype=">f4")[0]
        layers = sorted({c.split(".")[0] for c in channels if c.startswith(typename)})
        matte = None
        for layer in layers:
            if layer == typename:  # the optional preview layer carries no ranks
                continue
            for id_c, cov_c in (("R", "G"), ("B", "A")):
                ids = np.asarray(channels[f"{layer}.{id_c}"], dtype=np.float32)
                cov = np.asarray(channels[f"{layer}.{cov_c}"], dtype=np.float32)
                hit = np.where(ids == wanted, cov, 0.0)
                matte = hit if matte is None else matte + hit
        if matte is not None:
            return matte
    raise KeyError(f"{name} is not in any Cryptomatte manifest of this image")
