"""Pure-torch BEV pooling (tests and benchmarks only): materializes the frustum features."""

from __future__ import annotations

import torch

from kernels.bev_pool_ranks import BevPoolRanks


def bev_pool(depth: torch.Tensor, context: torch.Tensor, ranks: BevPoolRanks) -> torch.Tensor:
    """(B, C, X, Y): builds the (B, N, D, H, W, C) frustum tensor, then ``index_add`` per cell."""
    b, n, d, h, w = depth.shape
    c = context.shape[-1]
    frustum = depth.unsqueeze(-1) * context.unsqueeze(2)  # (B, N, D, H, W, C)
    points = frustum.reshape(b, n * d * h * w, c)[:, ranks.depth_index.long()]
    cells = depth.new_zeros((b, ranks.nx * ranks.ny, c))
    cells = cells.index_add(1, ranks.bev_index.long(), points)
    return cells.view(b, ranks.nx, ranks.ny, c).permute(0, 3, 1, 2).contiguous()
