"""Pure-torch pillar scatter (tests and benchmarks only); differentiable through torch autograd."""

from __future__ import annotations

import torch


def pillar_scatter(
    features: torch.Tensor, coords: torch.Tensor, batch_size: int, grid_xy: tuple[int, int]
) -> torch.Tensor:
    """(B, C, X, Y) canvas with ``features[m]`` at ``(b, :, ix, iy)``; the highest m wins a cell."""
    m, c = features.shape
    nx, ny = grid_xy
    flat = (coords[:, 0].long() * nx + coords[:, 1].long()) * ny + coords[:, 2].long()
    cells = batch_size * nx * ny
    winner = torch.full((cells,), -1, dtype=torch.int64, device=features.device)
    winner = winner.scatter_reduce(0, flat, torch.arange(m, device=features.device), reduce="amax")
    keep = winner[flat] == torch.arange(m, device=features.device)
    canvas = features.new_zeros((cells, c))
    canvas = canvas.index_put((flat[keep],), features[keep])
    return canvas.view(batch_size, nx, ny, c).permute(0, 3, 1, 2).contiguous()
