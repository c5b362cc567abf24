"""Learning-rate schedules: linear warm-up then cosine decay, or one-cycle."""
from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimisation step ``step`` (0-based).

    Linear from ``1 / (warmup_steps + 1)`` to 1 over the first ``warmup_steps`` steps, then a half
    cosine from 1 down to ``min_ratio`` at ``total_steps - 1``.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    decay_steps = max(total_steps - 1 - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: Optimizer,
    kind: str,
    total_steps: int,
    warmup_steps: int,
    min_ratio: float,
) -> LRScheduler:
    """A scheduler stepped once per optimisation step; its state dict holds plain values only.

    Args:
        optimizer: its param groups' current ``lr`` is the peak learning rate.
        kind: ``"cosine"`` (warm-up + cosine, :func:`warmup_cosine_factor`) or ``"onecycle"``.
        total_steps: number of optimisation steps of the run.
        warmup_steps: steps of linear warm-up (one-cycle: steps to reach the peak).
        min_ratio: final learning rate as a fraction of the peak.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if kind == "cosine":
        return LambdaLR(
            optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps, min_ratio)
        )
    if kind == "onecycle":
        peak = [group["lr"] for group in optimizer.param_groups]
        # OneCycleLR peaks at step pct_start * (total_steps + 1) - 1: make that ``warmup_steps``.
        pct_start = min(max((warmup_steps + 1) / (total_steps + 1), 0.01), 0.99)
        return OneCycleLR(
            optimizer,
            max_lr=peak,
            total_steps=total_steps + 1,  # OneCycleLR refuses a step beyond total_steps
            pct_start=pct_start,
            final_div_factor=1.0 / max(min_ratio, 1e-6) / 25.0,
            cycle_momentum=False,
        )
    raise ValueError(f"unknown schedule {kind!r}; expected 'cosine' or 'onecycle'")
