"""The per-shot finetune recipe's defaults, in one place and cheap to import (the CLI builds its
option defaults from it at start-up, before torch is needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vfxmatte.training.train import FitSettings


@dataclass(frozen=True)
class FinetuneSettings:
    """The per-shot recipe: every default of ``vfxmatte finetune`` lives here (the CLI reads its
    option defaults from this class), so a change of recipe is one edit here.

    The step count is what decides the quality (docs/maggie.md, "Measured"): the last recipe
    stopped after 135 steps and underfit; at quarter resolution a guide network still improves
    the held-out frames steadily at 200 steps of 4 crops of 128 px (about 1 s of CPU each), so
    the default is 700 steps, about 15 minutes of one CPU thread; ``time_budget_s`` (CPU
    seconds on a CPU device, see :mod:`vfxmatte.training.train`) stops slower machines earlier,
    with the learning rate annealed by then.
    """

    long_side: int = 960  # working scale: the engine runs the shot at the same scale
    crop: int = 128
    batch: int = 4
    steps: int = 700
    lr: float = 1e-3
    time_budget_s: float = 1500.0
    patience: int = 8  # held-back checks (every ``eval_every`` steps) without gain
    eval_every: int = 25
    holdout_crops: int = 8
    seed: int = 0

    def fit_settings(self) -> FitSettings:
        """The training loop's settings for this recipe."""
        from vfxmatte.training.train import FitSettings

        return FitSettings(
            steps=self.steps,
            batch=self.batch,
            lr=self.lr,
            time_budget_s=self.time_budget_s,
            eval_every=self.eval_every,
            patience=self.patience,
        )
