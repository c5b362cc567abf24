"""GradNorm (Chen, Badrinarayanan, Lee and Rabinovich, ICML 2018)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from perception.mtl.base import MultiTaskStrategy


class GradNorm(MultiTaskStrategy):
    """Learn loss weights so that the tasks' weighted gradient norms on the shared parameters match.

    With ``G_k = w_k * ||grad_W L_k||`` on the shared parameters W, ``r_k`` the task's inverse
    training rate ``(L_k / L_k(0)) / mean_j(L_j / L_j(0))``, the weights minimise
    ``sum_k |G_k - mean_j(G_j) * r_k^alpha|`` (target held constant). The weights are updated here by
    their own Adam optimizer (learning rate ``lr``), clamped positive and renormalised so that the
    present tasks keep their weight sum (all weights sum to K), as the paper prescribes; they are
    therefore not in :meth:`extra_parameters`. ``L_k(0)`` is the task's first seen loss; a task
    absent from a batch keeps its weight and optimizer state untouched.
    """

    needs_task_gradients = True

    def __init__(
        self, task_names: Sequence[str], track_conflict: bool = False, alpha: float = 1.5, lr: float = 0.025
    ) -> None:
        super().__init__(task_names, track_conflict)
        if alpha < 0.0 or lr <= 0.0:
            raise ValueError(f"GradNorm needs alpha >= 0 and lr > 0, got alpha={alpha}, lr={lr}")
        self.alpha = alpha
        self.task_weights = nn.ParameterDict({n: nn.Parameter(torch.tensor(1.0)) for n in self.task_names})
        self._optimizer = torch.optim.Adam(self.task_weights.values(), lr=lr)
        self.initial_losses: dict[str, float] = {}

    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        assert jacobian is not None  # needs_task_gradients
        values = torch.tensor([float(v.detach()) for v in losses], dtype=torch.float64)
        for n, v in zip(names, values.tolist()):
            self.initial_losses.setdefault(n, v)
        initial = torch.tensor([self.initial_losses[n] for n in names], dtype=torch.float64)
        weights = torch.stack([self.task_weights[n].detach() for n in names]).double()
        used = weights.clone()

        norms = jacobian.detach().double().norm(dim=1).cpu()
        weighted_norms = weights * norms
        ratio = values / initial.clamp_min(1e-12)
        inverse_rate = ratio / ratio.mean().clamp_min(1e-12)
        target = weighted_norms.mean() * inverse_rate**self.alpha
        # d/dw_k |w_k n_k - target_k| with the target held constant
        grads = torch.sign(weighted_norms - target) * norms
        for n, g in zip(names, grads):
            self.task_weights[n].grad = g.to(self.task_weights[n])
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            new = torch.stack([self.task_weights[n] for n in names]).clamp_min(1e-3)
            new = new * (weights.sum().float() / new.sum())
            for n, v in zip(names, new):
                self.task_weights[n].copy_(v)
        return used.float()

    def state_dict(self) -> dict[str, Any]:
        return {
            "weights": {n: p.detach().clone() for n, p in self.task_weights.items()},
            "optimizer": self._optimizer.state_dict(),
            "initial_losses": dict(self.initial_losses),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            for n, value in state["weights"].items():
                self.task_weights[n].copy_(value)
        self._optimizer.load_state_dict(state["optimizer"])
        self.initial_losses = dict(state["initial_losses"])
