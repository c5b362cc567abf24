"""AdamW with weight decay on weight matrices and kernels only."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


def decay_param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: tensors with 2 or more dimensions decay, biases and norm scales (1-D) do not."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(
    model: nn.Module,
    extra_groups: Iterable[dict[str, Any]],
    lr: float,
    weight_decay: float,
) -> torch.optim.AdamW:
    """AdamW over the model (decay split by :func:`decay_param_groups`) and extra groups.

    Args:
        model: the network.
        extra_groups: further parameter groups, e.g. a multi-task strategy's learnable weights
            (``MultiTaskStrategy.extra_param_groups()``), which carry their own ``weight_decay``.
        lr: peak learning rate, shared by every group.
        weight_decay: decoupled weight decay of the decaying model group.
    """
    groups = [*decay_param_groups(model, weight_decay), *extra_groups]
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
