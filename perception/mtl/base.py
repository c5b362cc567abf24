"""The common interface of multi-task strategies: combine per-task losses into parameter gradients.

Every strategy turns the losses of the tasks present in a batch into a weight vector ``w`` over
those tasks; the shared parameters receive ``sum_k w_k * grad(L_k)``. Loss-weighting methods (the
paper weights the whole loss) give task-specific parameters the same weighted gradient; gradient
methods (PCGrad, CAGrad, IMTL-G, ...) act on the shared parameters only and give each head the plain
gradient of its own loss.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from perception.mtl.gradients import (
    accumulate_flat_grad,
    accumulate_grad,
    cosine_similarity_matrix,
    task_gradients,
)


@dataclass(frozen=True)
class StrategyStep:
    """What one :meth:`MultiTaskStrategy.backward` did.

    Attributes:
        weights: weight of each present task's gradient on the shared parameters.
        losses: loss value of each present task.
        cosine: ``(K, K)`` cosine similarity of the present tasks' gradients on the shared
            parameters (order of ``weights``), or None when per-task gradients were not computed.
        shared_grad_norms: L2 norm of each present task's (unweighted, unscaled) loss gradient on
            the shared parameters, or None when per-task gradients were not computed: which task
            drives the shared trunk (with Adam, the direction of a shared parameter's update is
            dominated by the largest of them).
    """

    weights: dict[str, float]
    losses: dict[str, float]
    cosine: Tensor | None = None
    shared_grad_norms: dict[str, float] | None = None


class MultiTaskStrategy:
    """Base class: populate ``.grad`` of shared and task-specific parameters from task losses.

    Subclasses implement :meth:`_weights` and set the class attributes below.

    Attributes:
        needs_task_gradients: the weights depend on the per-task gradients (gradient methods,
            GradNorm), so one backward per task is always run.
        weights_heads: task-specific parameters get ``w_k * grad(L_k)`` (loss weighting) instead
            of ``grad(L_k)``.
    """

    needs_task_gradients = False
    weights_heads = True

    def __init__(self, task_names: Sequence[str], track_conflict: bool = False) -> None:
        """
        Args:
            task_names: every task the strategy may see; order is the reporting order.
            track_conflict: also compute per-task gradients (one backward per task) for methods
                that do not need them, to report the cosine-similarity matrix.
        """
        names = list(task_names)
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"task_names must be unique non-empty strings, got {names}")
        self.task_names = tuple(names)
        self.track_conflict = track_conflict

    # -- to implement --------------------------------------------------------------------------------
    def _weights(self, names: list[str], losses: list[Tensor], jacobian: Tensor | None) -> Tensor:
        """Weights ``(K,)`` of the present tasks ``names``; may update the strategy's own state.

        ``jacobian`` is the ``(K, P)`` matrix of per-task shared gradients, or None when not computed.
        """
        raise NotImplementedError

    # -- optional hooks ------------------------------------------------------------------------------
    def extra_parameters(self) -> list[nn.Parameter]:
        """Learnable parameters of the strategy that the trainer's optimizer must update."""
        return []

    def extra_param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups for :meth:`extra_parameters` (e.g. without weight decay)."""
        params = self.extra_parameters()
        return [{"params": params, "weight_decay": 0.0}] if params else []

    def end_epoch(self) -> None:
        """Tell the strategy an epoch ended (used by loss-history methods such as DWA)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (tensors and plain Python values)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    # -- the interface -------------------------------------------------------------------------------
    def backward(
        self,
        losses: Mapping[str, Tensor],
        shared_params: Sequence[nn.Parameter],
        task_specific_params: Sequence[nn.Parameter] | None = None,
        *,
        track_conflict: bool = False,
        grad_scale: float = 1.0,
    ) -> StrategyStep:
        """Accumulate gradients into ``.grad`` (like ``Tensor.backward``) and return what was done.

        Args:
            losses: scalar loss of each task present in the batch (absent tasks left out).
            shared_params: parameters every task depends on (the backbone).
            task_specific_params: parameters of the heads; each should be reached by one task only.
            track_conflict: compute the per-task gradients (and the cosine matrix) in this step even
                if the strategy does not need them (diagnostics).
            grad_scale: factor by which the gradients of ``losses`` are scaled (a mixed-precision
                loss scale): the strategy's own parameters, whose gradients come from detached loss
                values, get it too, so that unscaling all gradients by it restores them.

        Raises:
            ValueError: no task present, an unknown task, a non-scalar or non-finite loss, or a
                parameter listed as both shared and task-specific.
        """
        names, values = self._check_losses(losses)
        shared = list(shared_params)
        heads = list(task_specific_params or [])
        if {id(p) for p in shared} & {id(p) for p in heads}:
            raise ValueError("a parameter is listed both as shared and as task-specific")
        loss_values = {n: float(v.detach()) for n, v in zip(names, values)}

        if self.needs_task_gradients or self.track_conflict or track_conflict:
            jacobian, head_grads = task_gradients(values, shared, heads)
            weights = self._weights(names, values, jacobian).detach().to(jacobian)
            accumulate_flat_grad(shared, weights @ jacobian)
            for k, grads in enumerate(head_grads):
                scale = weights[k] if self.weights_heads else 1.0
                for p, g in zip(heads, grads):
                    if g is not None:
                        accumulate_grad(p, scale * g)
            cosine = cosine_similarity_matrix(jacobian).detach()
            norms = (jacobian.detach().norm(dim=1) / grad_scale).tolist()
            shared_grad_norms = dict(zip(names, norms))
        else:
            weights = self._weights(names, values, None).detach()
            total = sum(w * v for w, v in zip(weights, values))
            torch.autograd.backward(total, inputs=[*shared, *heads])
            cosine = shared_grad_norms = None
        if grad_scale != 1.0:
            for param in self.extra_parameters():
                if param.grad is not None:
                    param.grad.mul_(grad_scale)
        return StrategyStep(
            weights={n: float(w) for n, w in zip(names, weights)}, losses=loss_values, cosine=cosine,
            shared_grad_norms=shared_grad_norms,
        )

    def _check_losses(self, losses: Mapping[str, Tensor]) -> tuple[list[str], list[Tensor]]:
        unknown = set(losses) - set(self.task_names)
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; strategy knows {list(self.task_names)}")
        names = [n for n in self.task_names if n in losses]
        if not names:
            raise ValueError("no task is present in this batch; skip the step instead of calling backward")
        for n in names:
            loss = losses[n]
            if loss.ndim != 0:
                raise ValueError(f"loss of task {n!r} must be a scalar, got shape {tuple(loss.shape)}")
            if not torch.isfinite(loss.detach()):
                raise ValueError(f"loss of task {n!r} is not finite ({float(loss.detach())})")
        return names, [losses[n] for n in names]
