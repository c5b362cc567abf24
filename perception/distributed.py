"""Distributed data parallel helpers for runs launched by ``torchrun``.

Multi-task gradient strategies take per-task gradients of the shared parameters with
``torch.autograd.grad``, which DDP's reducer does not see: DDP only averages gradients accumulated
by ``.backward()``. So the trainer keeps DDP for what it does well (broadcasting the initial
parameters and buffers from rank 0) but runs its forward under ``no_sync()`` and synchronises
gradients itself, with two rules that make every rank compute exactly what a single process
computes on the global batch:

1. Task losses are global: each rank sums its present samples' losses, the sum and the present
   count are all-reduced, and the loss is ``global_sum / global_count`` (forward). Its backward
   scales the incoming gradient by the world size W, so a rank's local contribution is
   ``W * d(local_sum / global_count)``.
2. Every model parameter gets a gradient hook that averages across ranks. The average of the
   ranks' ``W * d(local_sum_r / count)`` is the global gradient, whether the gradient is taken by
   ``backward()`` or by a strategy's per-task ``autograd.grad``; so per-task gradients, their
   cosine similarities and the combined update are identical on every rank and equal the
   single-process ones.

The hooks issue one collective per parameter per backward, in the autograd engine's order: every
rank must therefore build the same graph (same modules used, same tasks in the loss dict, which
rule 1 guarantees for the tasks); :func:`check_same_graphs` compares the graphs' sizes every step
and fails loudly instead of deadlocking or mixing up gradients.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the run.

    Attributes:
        rank, world_size, local_rank: from torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``.
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def resolve_device(name: str | None) -> torch.device:
    """The torch device a ``--device`` value names, checked to exist on this machine.

    Args:
        name: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or None (CUDA when available, else CPU).

    Raises:
        ValueError: an unknown device name, or CUDA asked for where no usable GPU is (one line).
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: unknown device; use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: no CUDA GPU is available on this machine; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def init_distributed(device: str | None = None) -> DistContext:
    """Join the process group described by torchrun's environment, or return a single-process context.

    Args:
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when available). With CUDA each process uses
            ``cuda:LOCAL_RANK`` and the NCCL backend; on CPU the gloo backend.

    Raises:
        ValueError: ``device`` is unknown or not present (see :func:`resolve_device`).
    """
    use_cuda = resolve_device(device).type == "cuda"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def shutdown_distributed() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _GlobalSum(torch.autograd.Function):
    """Forward: sum over ranks. Backward: the incoming gradient times the world size (rule 1)."""

    @staticmethod
    def forward(ctx, value: Tensor) -> Tensor:  # type: ignore[override]
        total = value.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad * dist.get_world_size()


class _MeanOverRanks(torch.autograd.Function):
    """Forward: mean over ranks. Backward: identity, so second-order terms stay local (rule 2)."""

    @staticmethod
    def forward(ctx, value: Tensor) -> Tensor:  # type: ignore[override]
        mean = value.detach().clone()
        dist.all_reduce(mean, op=dist.ReduceOp.SUM)
        return mean / dist.get_world_size()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def global_sum(value: Tensor, ctx: DistContext) -> Tensor:
    """``value`` summed over ranks, differentiable with rule 1 (identity in a single process)."""
    return _GlobalSum.apply(value) if ctx.is_distributed else value


def all_reduce_sum(value: Tensor, ctx: DistContext) -> Tensor:
    """Non-differentiable sum over ranks of a tensor (identity in a single process)."""
    if not ctx.is_distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def install_gradient_averaging(params: list[nn.Parameter], ctx: DistContext) -> list[RemovableHandle]:
    """Hook each parameter so that every gradient computed for it is averaged over ranks (rule 2)."""
    if not ctx.is_distributed:
        return []
    return [p.register_hook(_MeanOverRanks.apply) for p in params if p.requires_grad]


def autograd_graph_size(root: Tensor) -> int:
    """Number of autograd nodes reachable from ``root`` (0 for a tensor without history)."""
    seen: set[object] = set()
    stack = [root.grad_fn] if root.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return len(seen)


def check_same_graphs(losses: dict[str, Tensor], ctx: DistContext) -> None:
    """Raise on every rank if the ranks' loss graphs differ in size (rule 2 would mis-pair collectives).

    A data-dependent branch (say, a local batch without any camera image) changes the graph on one
    rank only; the gradient hooks would then pair different parameters across ranks.
    """
    if not ctx.is_distributed:
        return
    sizes = torch.tensor([autograd_graph_size(v) for v in losses.values()], dtype=torch.int64)
    low, high = sizes.clone(), sizes.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        names = [n for n, a, b in zip(losses, low.tolist(), high.tolist()) if a != b]
        raise RuntimeError(
            f"ranks built different autograd graphs for tasks {names} (a batch part missing a modality on "
            "one rank?); distributed training needs the same modules used on every rank"
        )
