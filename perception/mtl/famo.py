"""FAMO: Fast Adaptive Multitask Optimization (Liu, Liang, Gong, Stone and Liu, NeurIPS 2023)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from perception.mtl.base import MultiTaskStrategy


class FAMO(MultiTaskStrategy):
    """Balance the tasks' log-loss decrease at O(1) cost (one backward, no per-task gradients).

    The update follows ``sum_k z_k log(L_k) / c`` with ``z = softmax(xi)`` and
    ``c = sum_k z_k / L_k``, i.e. task weights ``z_k / (c L_k)`` (they sum to 1): it is invariant to
    the scale of each loss. The logits ``xi`` are then moved against the observed log-loss
    improvement ``log L_k(t-1) - log L_k(t)``, so tasks that improve least gain weight. As a cheap
    variant (no extra forward), ``L(t)`` is the next step's loss on its own batch. The logits are
    updated here by their own Adam (``lr``, ``weight_decay`` as in the paper), so they are not in
    :meth:`extra_parameters`. A task's improvement is measured against the last step it was present
    in; absent tasks keep their logit, optimizer state and last loss. Losses must be non-negative.
    """

    def __init__(
        self,
        task_names: Sequence[str],
        track_conflict: bool = False,
        lr: float = 0.025,
        weight_decay: float = 1e-3,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(task_names, track_conflict)
        self.logits = nn.ParameterDict({n: nn.Parameter(torch.tensor(0.0)) for n in self.task_names})
        self._optimizer = torch.optim.Adam(self.logits.values(), lr=lr, weight_decay=weight_decay)
        self.eps = eps
        self._previous: dict[str, float] = {}

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        values = {n: float(v.detach()) for n, v in zip(names, losses)}
        bad = {n: v for n, v in values.items() if v < 0.0}
        if bad:
            raise ValueError(f"FAMO needs non-negative losses, got {bad}")
        self._update_logits(values)
        logits = torch.stack([self.logits[n].detach() for n in names])
        z = torch.softmax(logits, dim=0)
        loss_t = torch.tensor([values[n] for n in names]) + self.eps
        c = (z / loss_t).sum()
        return z / (c * loss_t)

    def _update_logits(self, values: dict[str, float]) -> None:
        """Adam step on the logits of present tasks against their last seen loss."""
        previous = dict(self._previous)
        self._previous.update(values)
        common = [n for n in self.task_names if n in values and n in previous]
        if not common:
            return
        improvement = torch.tensor([
            math.log(previous[n] + self.eps) - math.log(values[n] + self.eps) for n in common
        ])
        logits = [self.logits[n] for n in common]
        with torch.enable_grad():
            z = torch.softmax(torch.stack(logits), dim=0)
            grads = torch.autograd.grad(z, logits, grad_outputs=improvement)
        for p, g in zip(logits, grads):
            p.grad = g
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)

    def task_probabilities(self) -> dict[str, float]:
        """``softmax(xi)`` over all tasks."""
        z = torch.softmax(torch.stack([p.detach() for p in self.logits.values()]), dim=0)
        return dict(zip(self.logits.keys(), z.tolist()))

    def state_dict(self) -> dict[str, Any]:
        return {
            "logits": {n: p.detach().clone() for n, p in self.logits.items()},
            "optimizer": self._optimizer.state_dict(),
            "previous": dict(self._previous),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for n, value in state["logits"].items():
                self.logits[n].copy_(value)
        self._optimizer.load_state_dict(state["optimizer"])
        self._previous = dict(state["previous"])
