"""BEV pooling and pillar scatter in plain torch ops that export to standard ONNX operators.

The model's own ops (``kernels.bev_pool``, ``kernels.pillar_scatter``) are Numba / CUDA kernels that
no ONNX exporter can trace. These two functions compute the same sums with a Gather, a Mul and a
ScatterND (``reduction="add"`` for the pooling, plain for the scatter), so the exported graph runs on
any ONNX runtime, TensorRT included, without a plugin. Indices are flattened over the batch (see
:mod:`perception.export.inputs`), so one call serves samples with different camera rigs.
"""
from __future__ import annotations

import torch


def bev_pool_gather(probs: torch.Tensor, context: torch.Tensor, depth_index: torch.Tensor,
                    feat_index: torch.Tensor, bev_index: torch.Tensor, grid_xy: tuple[int, int]) -> torch.Tensor:
    """Sum of depth probability x context per BEV cell, the frustum never materialised.

    Args:
        probs: (B, N, D, h, w) depth-bin probabilities.
        context: (B, N, h, w, C) context features (channel last).
        depth_index: (K,) int64 index into ``probs`` flattened over (B, N, D, h, w).
        feat_index: (K,) int64 index into ``context`` flattened over (B, N, h, w).
        bev_index: (K,) int64 output cell ``(b * X + ix) * Y + iy``.
        grid_xy: (X, Y) cells of the BEV grid.

    Returns:
        (B, C, X, Y): ``out[b, :, ix, iy]`` = sum over the K points in that cell of
        ``probs[point] * context[point, :]``, zero for empty cells (what ``kernels.bev_pool`` returns).
    """
    b, c = probs.shape[0], context.shape[-1]
    nx, ny = grid_xy
    weights = probs.reshape(-1).index_select(0, depth_index)  # (K,)
    features = context.reshape(-1, c).index_select(0, feat_index)  # (K, C)
    cells = context.new_zeros((b * nx * ny, c)).index_put((bev_index,), weights[:, None] * features, accumulate=True)
    return cells.view(b, nx, ny, c).permute(0, 3, 1, 2)


def pillar_scatter_index(pillars: torch.Tensor, coords: torch.Tensor, batch_size: torch.Tensor | int,
                         grid_xy: tuple[int, int]) -> torch.Tensor:
    """Pillar features onto a dense (B, C, X, Y) canvas, zeros where there is no pillar.

    Args:
        pillars: (M, C) features; coords: (M, 4) int64 (b, ix, iy, iz), iz ignored.
        batch_size: B; grid_xy: (X, Y) canvas cells.

    Each (b, ix, iy) must appear at most once (true for pillars, whose voxel spans the whole height
    range); ONNX leaves the winner among repeated indices unspecified, ``kernels.pillar_scatter``
    keeps the last row.
    """
    nx, ny = grid_xy
    c = pillars.shape[1]
    cell = (coords[:, 0] * nx + coords[:, 1]) * ny + coords[:, 2]
    canvas = pillars.new_zeros((batch_size * nx * ny, c)).index_put((cell,), pillars)
    return canvas.view(batch_size, nx, ny, c).permute(0, 3, 1, 2)
