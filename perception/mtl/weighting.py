"""Loss-weighting strategies that need no per-task gradients: equal, static, uncertainty, DWA."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from perception.mtl.base import MultiTaskStrategy


class EqualWeights(MultiTaskStrategy):
    """Plain sum of the present tasks' losses (every weight 1)."""

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        return torch.ones(len(names))


class StaticWeights(MultiTaskStrategy):
    """Fixed task weights, the hand-tuned baseline of the multi-task literature: the loss is
    ``sum_k w_k L_k`` with ``w_k`` from ``weights`` (1 for a task it does not name).

    Args:
        weights: task name -> weight (finite, >= 0).

    Raises:
        ValueError: a weight for a task the strategy does not know, or a negative or non-finite one.
    """

    def __init__(self, task_names: Sequence[str], track_conflict: bool = False,
                 weights: Mapping[str, float] | None = None) -> None:
        super().__init__(task_names, track_conflict)
        given = dict(weights or {})
        unknown = sorted(set(given) - set(self.task_names))
        if unknown:
            raise ValueError(f"static weights for unknown tasks {unknown}; tasks: {list(self.task_names)}")
        bad = {n: w for n, w in given.items() if not (math.isfinite(float(w)) and float(w) >= 0)}
        if bad:
            raise ValueError(f"static weights must be finite and >= 0, got {bad}")
        self.weights = {n: float(given.get(n, 1.0)) for n in self.task_names}

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        return torch.tensor([self.weights[n] for n in names])


class UncertaintyWeighting(MultiTaskStrategy):
    """Homoscedastic uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018).

    Each task has a learnable ``s_k = log sigma_k^2``; the objective is
    ``sum_k 0.5 * exp(-s_k) * L_k + 0.5 * s_k``, whose optimum is ``sigma_k^2 = L_k`` (for a
    squared-error loss, the noise variance). The ``s_k`` are in :meth:`extra_parameters` and get their
    gradient here; the trainer's optimizer steps them (without weight decay). A task absent from a
    batch leaves its ``s_k`` without a gradient (``grad`` stays None after ``zero_grad()``), so
    optimizers skip it.
    """

    def __init__(self, task_names: Sequence[str], track_conflict: bool = False, init_log_var: float = 0.0) -> None:
        super().__init__(task_names, track_conflict)
        self.log_vars = nn.ParameterDict(
            {n: nn.Parameter(torch.tensor(float(init_log_var))) for n in self.task_names}
        )

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        s = torch.stack([self.log_vars[n] for n in names])
        detached = torch.stack([v.detach() for v in losses]).to(s)
        (0.5 * torch.exp(-s) * detached + 0.5 * s).sum().backward(inputs=[self.log_vars[n] for n in names])
        return 0.5 * torch.exp(-s.detach())

    def variances(self) -> dict[str, float]:
        """Learned ``sigma_k^2`` per task."""
        return {n: math.exp(float(p.detach())) for n, p in self.log_vars.items()}

    def extra_parameters(self) -> list[nn.Parameter]:
        return list(self.log_vars.values())

    def state_dict(self) -> dict[str, Any]:
        return {"log_vars": {n: p.detach().clone() for n, p in self.log_vars.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for n, value in state["log_vars"].items():
                self.log_vars[n].copy_(value)


class DynamicWeightAverage(MultiTaskStrategy):
    """Dynamic Weight Average (Liu, Johns and Davison, CVPR 2019).

    ``w_k = K * softmax_k(r_k / T)`` with ``r_k = Lbar_k(t-1) / Lbar_k(t-2)``, the ratio of the task's
    mean loss over the last two periods (epochs, or ``period_steps`` steps). A task decreasing
    slowly has a large ratio and gets more weight. Weights are 1 until two periods are known. Over
    a batch with a subset P of tasks the softmax runs over P and the weights sum to |P|; a period in
    which a task never appeared leaves its history unchanged.
    """

    def __init__(
        self,
        task_names: Sequence[str],
        track_conflict: bool = False,
        temperature: float = 2.0,
        period_steps: int | None = None,
    ) -> None:
        super().__init__(task_names, track_conflict)
        if temperature <= 0.0:
            raise ValueError(f"DWA temperature must be > 0, got {temperature}")
        if period_steps is not None and period_steps < 1:
            raise ValueError(f"DWA period_steps must be >= 1, got {period_steps}")
        self.temperature = temperature
        self.period_steps = period_steps
        self._sum = {n: 0.0 for n in self.task_names}
        self._count = {n: 0 for n in self.task_names}
        self._history: dict[str, list[float]] = {n: [] for n in self.task_names}  # last two period means
        self._steps_in_period = 0

    def ratios(self, names: Sequence[str]) -> list[float]:
        """``Lbar(t-1) / Lbar(t-2)`` per task (1 where fewer than two periods are known)."""
        out = []
        for n in names:
            hist = self._history[n]
            out.append(hist[-1] / hist[-2] if len(hist) == 2 and hist[-2] > 0.0 else 1.0)
        return out

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        ratios = torch.tensor(self.ratios(names), dtype=torch.float64)
        weights = len(names) * torch.softmax(ratios / self.temperature, dim=0)
        for n, v in zip(names, losses):
            self._sum[n] += float(v.detach())
            self._count[n] += 1
        self._steps_in_period += 1
        if self.period_steps is not None and self._steps_in_period >= self.period_steps:
            self.end_epoch()
        return weights.float()

    def end_epoch(self) -> None:
        for n in self.task_names:
            if self._count[n]:
                self._history[n] = [*self._history[n], self._sum[n] / self._count[n]][-2:]
            self._sum[n], self._count[n] = 0.0, 0
        self._steps_in_period = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "sum": dict(self._sum), "count": dict(self._count),
            "history": {n: list(h) for n, h in self._history.items()},
            "steps_in_period": self._steps_in_period,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._sum = dict(state["sum"])
        self._count = dict(state["count"])
        self._history = {n: list(h) for n, h in state["history"].items()}
        self._steps_in_period = int(state["steps_in_period"])
