"""Gradient-aggregation strategies on the shared parameters, backed by torchjd's tested aggregators.

Each strategy stacks the present tasks' gradients on the shared parameters into a ``(K, P)`` matrix
(one backward per task) and asks the torchjd aggregator's weighting for the weights ``w``; the
shared update is ``w @ J`` (exactly what the aggregator returns). Heads get their plain gradient.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from torch import Tensor

from perception.mtl.base import MultiTaskStrategy

if TYPE_CHECKING:
    from torchjd.aggregation import WeightedAggregator


def _torchjd() -> ModuleType:
    """``torchjd.aggregation``, imported when a strategy is built: it pulls in cvxpy and sympy
    (about 2 s), which inference (replay, the ROS node, evaluation) never needs."""
    from torchjd import aggregation

    return aggregation


class AggregatorStrategy(MultiTaskStrategy):
    """A :class:`MultiTaskStrategy` around a torchjd ``WeightedAggregator``."""

    needs_task_gradients = True
    weights_heads = False

    def __init__(self, task_names: Sequence[str], aggregator: WeightedAggregator) -> None:
        super().__init__(task_names, track_conflict=True)
        self.aggregator = aggregator

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        assert jacobian is not None  # needs_task_gradients
        return self.aggregator.weighting(jacobian.detach())


class PCGradStrategy(AggregatorStrategy):
    """PCGrad (Yu et al., NeurIPS 2020): project each task gradient off the conflicting others, sum.

    Uses torch's global RNG for the projection order (torchjd), so seeding makes it reproducible.
    """

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, _torchjd().PCGrad())


class CAGradStrategy(AggregatorStrategy):
    """CAGrad (Liu et al., NeurIPS 2021): the update d maximises the worst task improvement within
    ``||d - g0|| <= c ||g0||`` around the mean gradient g0 (torchjd, solved with cvxpy/Clarabel)."""

    def __init__(self, task_names: Sequence[str], c: float = 0.5) -> None:
        super().__init__(task_names, _torchjd().CAGrad(c=c))


class IMTLGStrategy(AggregatorStrategy):
    """IMTL-G (Liu et al., ICLR 2021): the update has equal projections on every unit task gradient;
    weights sum to 1."""

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, _torchjd().IMTLG())


class AlignedMTLStrategy(AggregatorStrategy):
    """Aligned-MTL (Senushkin et al., CVPR 2023): align the principal components of the task
    gradients (condition number 1) before combining them."""

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, _torchjd().AlignedMTL())


class UPGradStrategy(AggregatorStrategy):
    """UPGrad (Quinton and Rey, 2024): project every task gradient onto the dual cone of all task
    gradients and average, so the update conflicts with no task."""

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, _torchjd().UPGrad())
