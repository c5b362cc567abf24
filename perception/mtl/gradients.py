"""Per-task gradients on the shared parameters, their cosine similarities, and writing ``.grad``."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def task_gradients(
    losses: Sequence[Tensor], shared: Sequence[nn.Parameter], heads: Sequence[nn.Parameter]
) -> tuple[Tensor, list[list[Tensor | None]]]:
    """One backward per task: the stacked shared gradients and each task's head gradients.

    Returns:
        ``jacobian`` ``(K, P)``: row k is the flattened gradient of loss k on ``shared`` (zeros where
        a parameter does not influence the loss); ``head_grads[k][j]``: gradient of loss k on
        ``heads[j]``, None where loss k does not reach that parameter.
    """
    params = [*shared, *heads]
    rows: list[Tensor] = []
    head_grads: list[list[Tensor | None]] = []
    for k, loss in enumerate(losses):
        grads = torch.autograd.grad(
            loss, params, retain_graph=k < len(losses) - 1, allow_unused=True
        )
        rows.append(torch.cat([
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for p, g in zip(shared, grads[: len(shared)])
        ]))
        head_grads.append(list(grads[len(shared):]))
    return torch.stack(rows), head_grads


def cosine_similarity_matrix(jacobian: Tensor, eps: float = 1e-12) -> Tensor:
    """``(K, K)`` cosine similarity between the rows of ``jacobian`` (0 for a zero gradient)."""
    norms = jacobian.norm(dim=1, keepdim=True)
    unit = jacobian / norms.clamp_min(eps)
    return unit @ unit.T


def accumulate_flat_grad(params: Sequence[nn.Parameter], flat: Tensor) -> None:
    """Add the flat vector ``flat`` (concatenated in ``params`` order) to each ``param.grad``."""
    offset = 0
    for p in params:
        piece = flat[offset: offset + p.numel()].view_as(p)
        offset += p.numel()
        accumulate_grad(p, piece)
    if offset != flat.numel():
        raise ValueError(f"flat gradient has {flat.numel()} values, parameters have {offset}")


def accumulate_grad(param: nn.Parameter, grad: Tensor) -> None:
    """``param.grad += grad`` (creating it when missing), detached from any graph."""
    grad = grad.detach()
    if param.grad is None:
        param.grad = grad.clone()
    else:
        param.grad.add_(grad)
