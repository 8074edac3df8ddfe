"""Where a person is, by the project's human-matting network (RVM): a prior for the guided engine.

Why: the guided engine's trimap and solve know only colours. A dark window grid beside a head looks
like hair to them (the grey patches beside both heads on the real two-person clip), and a dark
microphone held in front of a chin looks like background seen through the mask (the hole there).
RVM was trained on people and says neither: its alpha is coarse (it works near 480 px) but it
knows what belongs to a person. So, per instance the network actually finds:

- outside the rough mask, the trimap is background beyond a couple of network pixels of what the
  network sees (no grey window patches);
- inside the rough mask's interior, the trimap is foreground where the network is sure of a
  person (no holes opened in a person's interior).

Both are trimap constraints, so the closed-form solve still draws the edges from the image.

Instances the network does not find (a plant, a toy, an object) keep the guided engine's answer
untouched: the prior's weight ramps from 0 at a coverage of 0.5 to 1 at 0.8 (:func:`prior_weights`,
which also sets how far the rvm engine trusts its own network before falling back). The network runs statelessly on each frame, so a frame's result never depends on
where a job started (resumes and farm chunks write the same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vfxmatte.refine.filters import dilate, erode

COVERAGE_RAMP = (0.5, 0.8)  # coverage giving no prior / the full prior
SEEN = 0.1  # network alpha that counts as "part of a person"
SURE = 0.9  # network alpha that counts as "solid person"
REACH = 2  # network pixels the gate extends past what the network sees (its alpha is coarse)
PASSES = 2  # runs of the network on the frame: the second starts from the first's state


def person_coverage(union: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N,) mean network alpha over each mask's core (the mask eroded by 2% of the long side),
    computed at about 512 px: how much of each masked subject the network finds a person."""
    scale = min(1.0, 512 / max(union.shape))
    size = (max(1, round(union.shape[0] * scale)), max(1, round(union.shape[1] * scale)))
    small = F.interpolate(torch.cat([union[None], masks])[None], size=size, mode="area")[0]
    u, m = small[0], (small[1:] > 0.5).float()
    core = erode(m, max(1, round(0.02 * max(size))))
    core = torch.where(core.flatten(1).sum(1).view(-1, 1, 1) > 0, core, m)
    return (u * core).flatten(1).sum(1) / core.flatten(1).sum(1).clamp_min(1.0)


def prior_weights(coverage: torch.Tensor) -> torch.Tensor:
    """(N,) how far to trust the network per instance, from its coverage (0: not a person to
    it, 1: fully one); the guided engine's prior and the rvm engine's fallback both use it."""
    lo, hi = COVERAGE_RAMP
    return ((coverage - lo) / (hi - lo)).clamp(0.0, 1.0)


@dataclass
class PersonView:
    """The network's alpha of every person in one frame, and the scale it worked at."""

    union: torch.Tensor  # (H, W) float32 in [0, 1]
    ratio: float  # network resolution / frame resolution

    @property
    def reach(self) -> int:
        """:data:`REACH` network pixels in frame pixels (at least one)."""
        return max(1, round(REACH / self.ratio))


class PersonPrior:
    """Loads the RVM network once (from the one weights resolver) and looks at frames."""

    def __init__(self, device: torch.device, weights: str | None = None, target_size: int = 480):
        from vfxmatte import models
        from vfxmatte.engines.rvm import load_network

        path, _ = models.require_rvm_weights(weights)
        self.device = device
        self.target_size = target_size
        self.net = load_network(path, device, torch.float32)

    @torch.inference_mode()
    def see(self, image: torch.Tensor) -> PersonView:
        """(3, H, W) display sRGB -> the network's union alpha, from a fresh state."""
        from vfxmatte.engines.rvm import auto_downsample_ratio

        h, w = image.shape[-2:]
        ratio = auto_downsample_ratio(h, w, self.target_size)
        src = image.to(self.device, torch.float32).clamp(0.0, 1.0).unsqueeze(0)
        state: tuple[torch.Tensor | None, ...] = (None, None, None, None)
        for _ in range(PASSES):
            _, pha, state = self.net(src, state, ratio, alpha_only=True)
        return PersonView(union=pha[0, 0].float().clamp(0.0, 1.0), ratio=ratio)


def person_regions(view: PersonView) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) ``allowed`` (within :data:`REACH` network pixels of what the network sees) and
    ``sure`` (the network is sure of a person) as {0, 1} float32."""
    union = view.union
    allowed = dilate((union >= SEEN).float()[None], view.reach)[0]
    return allowed, (union >= SURE).float()


def constrain_trimap(
    tri: torch.Tensor, mask: torch.Tensor, allowed: torch.Tensor, sure: torch.Tensor, reach: int
) -> torch.Tensor:
    """One person's trimap (1 fg, 0 bg, 0.5 unknown) under the prior, all crops of one region:
    background outside the rough ``mask`` where no person is ``allowed``; foreground inside the
    mask's interior (eroded by ``reach``) where the network is ``sure``. The solve then draws
    the edges from the image, not from the network's coarse alpha."""
    inside = (mask > 0.5).to(tri)
    interior = erode(inside[None], reach)[0]
    tri = torch.where((inside == 0) & (allowed == 0), torch.zeros_like(tri), tri)
    return torch.where((interior > 0) & (sure > 0), torch.ones_like(tri), tri)
