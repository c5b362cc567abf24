"""Build a multi-task strategy by name (the name used in configs)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perception.mtl.aggregators import (
    AlignedMTLStrategy,
    CAGradStrategy,
    IMTLGStrategy,
    PCGradStrategy,
    UPGradStrategy,
)
from perception.mtl.base import MultiTaskStrategy
from perception.mtl.famo import FAMO
from perception.mtl.gradnorm import GradNorm
from perception.mtl.weighting import DynamicWeightAverage, EqualWeights, UncertaintyWeighting

STRATEGY_NAMES = (
    "equal", "uncertainty", "dwa", "gradnorm", "famo", "pcgrad", "cagrad", "imtlg", "aligned_mtl", "upgrad",
)


def make_strategy(name: str, task_names: Sequence[str], **kwargs: Any) -> MultiTaskStrategy:
    """Construct the strategy ``name`` (one of ``STRATEGY_NAMES``) with its constructor's kwargs.

    Raises:
        ValueError: unknown name, or keyword arguments the strategy does not take.
    """
    if name == "equal":
        cls: type[MultiTaskStrategy] = EqualWeights
    elif name == "uncertainty":
        cls = UncertaintyWeighting
    elif name == "dwa":
        cls = DynamicWeightAverage
    elif name == "gradnorm":
        cls = GradNorm
    elif name == "famo":
        cls = FAMO
    elif name == "pcgrad":
        cls = PCGradStrategy
    elif name == "cagrad":
        cls = CAGradStrategy
    elif name == "imtlg":
        cls = IMTLGStrategy
    elif name == "aligned_mtl":
        cls = AlignedMTLStrategy
    elif name == "upgrad":
        cls = UPGradStrategy
    else:
        raise ValueError(f"unknown multi-task strategy {name!r}; choose one of {list(STRATEGY_NAMES)}")
    try:
        return cls(task_names, **kwargs)
    except TypeError as err:
        raise ValueError(f"multi-task strategy {name!r}: bad arguments {sorted(kwargs)}: {err}") from err
