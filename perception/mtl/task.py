"""Task descriptions and partially labelled losses for multi-task training.

A task's loss arrives per sample with a presence mask, because a sample may carry labels for only
some tasks (cabin and street recordings come from different drives). The batch loss of a task is the
mean over its present samples; a task with no present sample is absent from the step.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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

    @property
    def num_present(self) -> int:
        """Number of samples with labels for this task."""
        return int(self.present.sum().item())

    def reduce(self) -> Tensor | None:
        """Mean loss over the present samples (scalar), or None when no sample is present."""
        if not bool(self.present.any()):
            return None
        return self.per_sample[self.present].mean()


@dataclass(frozen=True)
class Task:
    """One head's training objective.

    Attributes:
        name: task name, unique within a model (e.g. ``"detection"``).
        loss_fn: ``loss_fn(prediction, target) -> TaskLoss``.
        metric: name of the task's main evaluation metric (e.g. ``"NDS"``, ``"AbsRel"``).
        higher_is_better: direction of ``metric`` (used for the relative gain Delta_m).
    """

    name: str
    loss_fn: Callable[[Any, Any], TaskLoss]
    metric: str
    higher_is_better: bool

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Task.name must be a non-empty string")

    def loss(self, prediction: Any, target: Any) -> TaskLoss:
        """Apply ``loss_fn`` and check that it returned a :class:`TaskLoss`."""
        result = self.loss_fn(prediction, target)
        if not isinstance(result, TaskLoss):
            raise TypeError(f"task {self.name!r}: loss_fn returned {type(result).__name__}, expected TaskLoss")
        return result


def present_losses(task_losses: Mapping[str, TaskLoss]) -> dict[str, Tensor]:
    """Reduce each task's masked loss; tasks with no present sample are left out."""
    reduced = {name: loss.reduce() for name, loss in task_losses.items()}
    return {name: value for name, value in reduced.items() if value is not None}
