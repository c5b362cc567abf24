"""Pillar scatter: features of non-empty pillars onto a dense BEV canvas, with backward.

Canvas layout is (B, C, X, Y): X along ego +x (forward), Y along ego +y (left), i.e.
``canvas[b, :, ix, iy]`` holds the pillar with coords (b, ix, iy, *). If several rows share a
cell, the one with the highest row index wins (on every backend), and only it gets gradient.
"""

from __future__ import annotations

import torch

from kernels import _scatter_numba as nb
from kernels._checks import check_positive_int, check_tensor
from kernels._dispatch import (
    as_numba_cuda,
    as_numpy,
    choose_backend,
    launch_config,
    numba_cuda_stream,
    numba_threads,
)
from kernels.reference import scatter as ref

_BACKENDS = ("reference", "numba", "numba_cuda")


def pillar_scatter(
    features: torch.Tensor,
    coords: torch.Tensor,
    batch_size: int,
    grid_xy: tuple[int, int],
    backend: str | None = None,
) -> torch.Tensor:
    """Scatter pillar features to a (B, C, X, Y) canvas (zeros elsewhere); differentiable.

    Args:
        features: (M, C) float32 or float64 pillar features.
        coords: (M, 4) int32/int64 (batch, ix, iy, iz) as from ``hard_voxelize_batch``;
            iz is ignored. Every index must be inside the canvas.
        batch_size: B.
        grid_xy: (X, Y) canvas size in cells.
        backend: None (by device), "reference", "numba" or "numba_cuda".
    """
    op = "pillar_scatter"
    check_tensor(op, "features", features, 2, (torch.float32, torch.float64))
    check_tensor(op, "coords", coords, 2, (torch.int32, torch.int64), last_dim=4)
    check_positive_int(op, "batch_size", batch_size)
    if len(grid_xy) != 2:
        raise ValueError(f"{op}: grid_xy must be (X, Y), got {grid_xy!r}")
    nx = check_positive_int(op, "grid_xy[0]", grid_xy[0])
    ny = check_positive_int(op, "grid_xy[1]", grid_xy[1])
    if coords.shape[0] != features.shape[0]:
        raise ValueError(f"{op}: coords has {coords.shape[0]} rows but features has {features.shape[0]}")
    if coords.device != features.device:
        raise ValueError(f"{op}: coords on {coords.device} but features on {features.device}")
    if coords.shape[0]:
        lo = coords[:, :3].amin(dim=0).tolist()
        hi = coords[:, :3].amax(dim=0).tolist()
        if min(lo) < 0 or hi[0] >= batch_size or hi[1] >= nx or hi[2] >= ny:
            raise ValueError(
                f"{op}: coords out of range: (b, ix, iy) spans {lo}..{hi} for batch {batch_size}, grid {(nx, ny)}"
            )
    which = choose_backend(op, features.device, backend, _BACKENDS)
    if which == "reference":
        return ref.pillar_scatter(features, coords, batch_size, (nx, ny))
    cells = coords[:, :3].to(torch.int64).contiguous()
    return _PillarScatter.apply(features.contiguous(), cells, batch_size, nx, ny, which)


def _winners(cells: torch.Tensor, batch_size: int, nx: int, ny: int, which: str) -> torch.Tensor:
    if which == "numba":
        return torch.from_numpy(nb.winners(as_numpy(cells), batch_size, nx, ny))
    from kernels import _scatter_cuda as kc

    device = cells.device
    owner = torch.full((batch_size * nx * ny,), -1, dtype=torch.int64, device=device)
    win = torch.empty(cells.shape[0], dtype=torch.uint8, device=device)
    if cells.shape[0]:
        stream = numba_cuda_stream(device)
        blocks, threads = launch_config(cells.shape[0])
        kc.claim_cells[blocks, threads, stream](as_numba_cuda(cells), nx, ny, as_numba_cuda(owner))
        kc.mark_winners[blocks, threads, stream](
            as_numba_cuda(cells), nx, ny, as_numba_cuda(owner), as_numba_cuda(win)
        )
    return win


class _PillarScatter(torch.autograd.Function):
    """Forward scatters winners; backward gathers the canvas gradient back to them."""

    @staticmethod
    def forward(ctx, features, cells, batch_size, nx, ny, which):  # type: ignore[override]
        win = _winners(cells, batch_size, nx, ny, which)
        canvas = features.new_zeros((batch_size, features.shape[1], nx, ny))
        if features.shape[0] and features.shape[1]:
            _run(which, "scatter_forward", features, cells, win, canvas, features.shape[0] * features.shape[1])
        ctx.save_for_backward(cells, win)
        ctx.which = which
        return canvas

    @staticmethod
    def backward(ctx, grad_canvas):  # type: ignore[override]
        cells, win = ctx.saved_tensors
        grad_canvas = grad_canvas.contiguous()
        grad_features = grad_canvas.new_zeros((cells.shape[0], grad_canvas.shape[1]))
        if grad_features.numel():
            _run(ctx.which, "scatter_backward", grad_canvas, cells, win, grad_features, grad_features.numel())
        return grad_features, None, None, None, None, None


def _run(which: str, name: str, a: torch.Tensor, cells: torch.Tensor, win: torch.Tensor, out: torch.Tensor, work: int) -> None:
    if which == "numba":
        with numba_threads(work):
            getattr(nb, name)(as_numpy(a), as_numpy(cells), as_numpy(win), as_numpy(out))
        return
    from kernels import _scatter_cuda as kc

    blocks, threads = launch_config(work)
    getattr(kc, name)[blocks, threads, numba_cuda_stream(a.device)](
        as_numba_cuda(a), as_numba_cuda(cells), as_numba_cuda(win), as_numba_cuda(out)
    )
