"""Partially labelled task losses for multi-task training.

A task's loss arrives per sample with a presence mask, because a sample may carry labels for only
some tasks (cabin and street recordings come from different drives). The batch loss of a task is the
mean over its present samples; a task with no present sample is absent from the step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TaskLoss:
    """Per-sample losses of one task and which samples carry its labels.

    Attributes:
        per_sample: ``(B,)`` float loss of every sample (values of absent samples are ignored,
            they may be anything finite or not; keep them out of the graph where they could give
            non-finite gradients).
        present: ``(B,)`` bool, True where the sample has labels for this task.
    """

    per_sample: Tensor
    present: Tensor

    def __post_init__(self) -> None:
        if self.per_sample.ndim != 1:
            raise ValueError(f"TaskLoss.per_sample must have shape (B,), got {tuple(self.per_sample.shape)}")
        if self.present.dtype != torch.bool or self.present.shape != self.per_sample.shape:
            raise ValueError(
                "TaskLoss.present must be a bool tensor shaped like per_sample "
                f"{tuple(self.per_sample.shape)}, got {self.present.dtype} {tuple(self.present.shape)}"
            )

    def reduce(self) -> Tensor | None:
        """Mean loss over the present samples of this process (scalar), or None when none is present
        (the trainer reduces over all ranks instead)."""
        if not bool(self.present.any()):
            return None
        return self.per_sample[self.present].mean()
