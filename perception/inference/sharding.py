"""Sharding evaluation work over ``torchrun`` ranks and gathering the results on rank 0.

Items are cut into fixed blocks of ``block`` consecutive items (one forward batch each) and rank
``r`` of ``W`` takes blocks ``r, r + W, r + 2W, ...``: every batch holds the same items whatever
the number of ranks, so the numbers equal a single process's exactly. Every item carries its
global index, so rank 0 restores dataset order after ``torch.distributed.gather_object`` (gloo
on CPU, NCCL on GPU, as set up by :func:`perception.distributed.init_distributed`).
"""
from __future__ import annotations

from typing import Any

import torch.distributed as dist

from perception.distributed import DistContext


def shard_blocks(count: int, block: int, ctx: DistContext) -> list[list[int]]:
    """The blocks (lists of item indices, at most ``block`` long) of ``count`` items this rank evaluates."""
    if block < 1:
        raise ValueError(f"block size must be >= 1, got {block}")
    starts = range(ctx.rank * block, count, ctx.world_size * block)
    return [list(range(s, min(s + block, count))) for s in starts]


def gather_to_main(items: list[Any], ctx: DistContext) -> list[Any] | None:
    """Every rank's ``items`` concatenated on rank 0 (rank order); None on the other ranks.

    In a single process this returns ``items`` unchanged.
    """
    if not ctx.is_distributed:
        return list(items)
    gathered: list[list[Any]] | None = [[] for _ in range(ctx.world_size)] if ctx.is_main else None
    dist.gather_object(items, gathered, dst=0)
    if not ctx.is_main:
        return None
    assert gathered is not None
    return [item for part in gathered for item in part]
