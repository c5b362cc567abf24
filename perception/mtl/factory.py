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
from perception.mtl.weighting import (
    DynamicWeightAverage,
    EqualWeights,
    StaticWeights,
    UncertaintyWeighting,
)

#: Config name -> strategy class (a plain mapping, read only by :func:`make_strategy`).
_STRATEGY_CLASSES: dict[str, type[MultiTaskStrategy]] = {
    "equal": EqualWeights,
    "static": StaticWeights,
    "uncertainty": UncertaintyWeighting,
    "dwa": DynamicWeightAverage,
    "gradnorm": GradNorm,
    "famo": FAMO,
    "pcgrad": PCGradStrategy,
    "cagrad": CAGradStrategy,
    "imtlg": IMTLGStrategy,
    "aligned_mtl": AlignedMTLStrategy,
    "upgrad": UPGradStrategy,
}
STRATEGY_NAMES = tuple(_STRATEGY_CLASSES)


def make_strategy(name: str, task_names: Sequence[str], **kwargs: Any) -> MultiTaskStrategy:
    """Construct the strategy ``name`` (one of ``STRATEGY_NAMES``) with its constructor's kwargs.

    Raises:
        ValueError: unknown name, or keyword arguments the strategy does not take.
    """
    cls = _STRATEGY_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown multi-task strategy {name!r}; choose one of {list(STRATEGY_NAMES)}")
    try:
        return cls(task_names, **kwargs)
    except TypeError as err:
        raise ValueError(f"multi-task strategy {name!r}: bad arguments {sorted(kwargs)}: {err}") from err
