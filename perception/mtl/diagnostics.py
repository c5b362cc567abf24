"""Gradient-conflict statistics accumulated over training steps, for logging."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor


@dataclass
class PairStats:
    """Running statistics of one task pair's gradient cosine similarity."""

    steps: int = 0
    cosine_sum: float = 0.0
    conflicts: int = 0

    @property
    def mean_cosine(self) -> float:
        return self.cosine_sum / self.steps if self.steps else 0.0

    @property
    def conflict_fraction(self) -> float:
        """Fraction of steps where the pair's gradients had a negative inner product."""
        return self.conflicts / self.steps if self.steps else 0.0


class GradientConflictLog:
    """Accumulates per-pair cosine similarities of task gradients on the shared parameters.

    Pairs are keyed ``"a/b"`` with ``a`` before ``b`` in the order the names are given; a pair is
    only counted on steps where both tasks were present.
    """

    def __init__(self) -> None:
        self.pairs: dict[str, PairStats] = {}

    def update(self, task_names: Sequence[str], cosine: Tensor) -> None:
        """Add one step: ``cosine`` is ``(K, K)`` in the order of ``task_names``."""
        k = len(task_names)
        if tuple(cosine.shape) != (k, k):
            raise ValueError(f"cosine matrix shape {tuple(cosine.shape)} does not match {k} task names")
        values = cosine.detach().cpu().tolist()
        for i in range(k):
            for j in range(i + 1, k):
                stats = self.pairs.setdefault(f"{task_names[i]}/{task_names[j]}", PairStats())
                stats.steps += 1
                stats.cosine_sum += values[i][j]
                stats.conflicts += values[i][j] < 0.0

    def summary(self) -> dict[str, float]:
        """Flat scalars for a logger: ``cos/<a>/<b>`` and ``conflict/<a>/<b>``."""
        out: dict[str, float] = {}
        for pair, stats in self.pairs.items():
            out[f"cos/{pair}"] = stats.mean_cosine
            out[f"conflict/{pair}"] = stats.conflict_fraction
        return out

    def reset(self) -> None:
        """Start a new logging period."""
        self.pairs.clear()
