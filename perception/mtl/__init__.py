"""Multi-task learning: task losses with partial labels, loss-weighting and gradient strategies.
See ``docs/mtl.md``."""
from perception.mtl.aggregators import (
    AggregatorStrategy,
    AlignedMTLStrategy,
    CAGradStrategy,
    IMTLGStrategy,
    PCGradStrategy,
    UPGradStrategy,
)
from perception.mtl.base import MultiTaskStrategy, StrategyStep
from perception.mtl.factory import STRATEGY_NAMES, make_strategy
from perception.mtl.famo import FAMO
from perception.mtl.gradients import cosine_similarity_matrix, task_gradients
from perception.mtl.gradnorm import GradNorm
from perception.mtl.task import TaskLoss
from perception.mtl.weighting import (
    DynamicWeightAverage,
    EqualWeights,
    StaticWeights,
    UncertaintyWeighting,
)

__all__ = [
    "FAMO",
    "STRATEGY_NAMES",
    "AggregatorStrategy",
    "AlignedMTLStrategy",
    "CAGradStrategy",
    "DynamicWeightAverage",
    "EqualWeights",
    "GradNorm",
    "IMTLGStrategy",
    "MultiTaskStrategy",
    "PCGradStrategy",
    "StaticWeights",
    "StrategyStep",
    "TaskLoss",
    "UPGradStrategy",
    "UncertaintyWeighting",
    "cosine_similarity_matrix",
    "make_strategy",
    "task_gradients",
]
