"""Lift-splat BEV pooling: sum of depth probability x context feature per BEV cell.

``bev_pool`` never builds the (B, N, D, H, W, C) frustum feature tensor: it walks the ranks
(precomputed per camera rig, see :mod:`kernels.bev_pool_ranks`) cell by cell and multiplies
the two inputs on the fly (BEVPoolv2-style interval reduction). It has a backward for both
inputs. Output layout is (B, C, X, Y), X along ego +x, Y along ego +y.
"""

from __future__ import annotations

import torch

from kernels import _bev_pool_numba as nb
from kernels._checks import check_tensor
from kernels._dispatch import as_numpy, choose_backend, numba_threads
from kernels.bev_pool_ranks import BevPoolRanks
from kernels.reference import bev_pool as ref

_BACKENDS = ("reference", "numba", "cupy")


def bev_pool(
    depth: torch.Tensor, context: torch.Tensor, ranks: BevPoolRanks, backend: str | None = None
) -> torch.Tensor:
    """Pool camera features into BEV; differentiable in ``depth`` and ``context``.

    Args:
        depth: (B, N, D, H, W) float32/float64 depth-bin probabilities per camera and pixel.
        context: (B, N, H, W, C) same dtype, context features (channel last).
        ranks: from ``precompute_bev_pool`` for this rig (the same rig for every sample),
            on the inputs' device.
        backend: None (by device: numba on CPU, cupy on CUDA), "reference", "numba", "cupy".

    Returns:
        (B, C, X, Y): ``out[b, :, ix, iy]`` = sum over frustum points in cell (ix, iy) of
        ``depth[b, n, d, h, w] * context[b, n, h, w, :]``; zero for empty cells.
    """
    op = "bev_pool"
    dtypes = (torch.float32, torch.float64)
    check_tensor(op, "depth", depth, 5, dtypes)
    check_tensor(op, "context", context, 5, dtypes)
    if not isinstance(ranks, BevPoolRanks):
        raise ValueError(f"{op}: ranks must be BevPoolRanks, got {type(ranks).__name__}")
    if context.dtype != depth.dtype:
        raise ValueError(f"{op}: depth is {depth.dtype} but context is {context.dtype}")
    b, n, d, h, w = depth.shape
    if tuple(depth.shape[1:]) != ranks.shape:
        raise ValueError(f"{op}: depth has (N, D, H, W) = {tuple(depth.shape[1:])} but ranks were built for {ranks.shape}")
    if tuple(context.shape[:4]) != (b, n, h, w):
        raise ValueError(f"{op}: context shape {tuple(context.shape)} does not match depth {tuple(depth.shape)}")
    if context.device != depth.device or ranks.device != depth.device:
        raise ValueError(f"{op}: depth on {depth.device}, context on {context.device}, ranks on {ranks.device}")
    which = choose_backend(op, depth.device, backend, _BACKENDS)
    if which == "reference":
        return ref.bev_pool(depth, context, ranks)
    out = _BevPool.apply(depth, context, ranks, which)
    return out.view(b, context.shape[-1], ranks.nx, ranks.ny)


class _BevPool(torch.autograd.Function):
    """Interval reduction forward; per-point depth gradient, per-feature context gradient."""

    @staticmethod
    def forward(ctx, depth, context, ranks, which):  # type: ignore[override]
        b, n, d, h, w = depth.shape
        c = context.shape[-1]
        dep = depth.detach().contiguous().view(b, n * d * h * w)
        con = context.detach().contiguous().view(b, n * h * w, c)
        out = dep.new_zeros((b, c, ranks.nx * ranks.ny))
        if ranks.interval_starts.numel() and c:
            if which == "numba":
                with numba_threads(b * ranks.depth_index.numel() * c):
                    nb.forward(
                        as_numpy(dep), as_numpy(con),
                        *_index_arrays(ranks, "depth_index", "feat_index", "bev_index", "interval_starts", "interval_lengths"),
                        as_numpy(out),
                    )
            else:
                from kernels import _bev_pool_cupy as cp

                cp.forward(dep, con, ranks, out)
        ctx.save_for_backward(dep, con)
        ctx.ranks = ranks
        ctx.which = which
        ctx.depth_shape = depth.shape
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        dep, con = ctx.saved_tensors
        ranks: BevPoolRanks = ctx.ranks
        if ctx.which == "numba" and grad_out.is_contiguous():  # else (e.g. expanded) torch's copy is as fast
            grad_cells = grad_out.new_empty((grad_out.shape[0], grad_out.shape[2], grad_out.shape[1]))
            with numba_threads(grad_out.numel()):
                nb.cell_major(as_numpy(grad_out), as_numpy(grad_cells))  # (B, X*Y, C): channels contiguous
        else:
            grad_cells = grad_out.transpose(1, 2).contiguous()
        grad_depth = grad_context = None
        empty = ranks.interval_starts.numel() == 0 or con.shape[2] == 0
        work = dep.shape[0] * ranks.depth_index.numel() * con.shape[2]
        if ctx.needs_input_grad[0]:
            grad_depth = torch.zeros_like(dep)
            if not empty:
                if ctx.which == "numba":
                    with numba_threads(work):
                        nb.backward_depth(
                            as_numpy(grad_cells), as_numpy(con),
                            *_index_arrays(ranks, "depth_index", "feat_index", "bev_index"), as_numpy(grad_depth),
                        )
                else:
                    from kernels import _bev_pool_cupy as cp

                    cp.backward_depth(grad_cells, con, ranks, grad_depth)
            grad_depth = grad_depth.view(ctx.depth_shape)
        if ctx.needs_input_grad[1]:
            grad_context = torch.zeros_like(con)
            if not empty:
                if ctx.which == "numba":
                    with numba_threads(work):
                        nb.backward_context(
                            as_numpy(grad_cells), as_numpy(dep),
                            *_index_arrays(ranks, "depth_index", "feat_index", "bev_index", "feat_order",
                                           "feat_starts", "feat_lengths"),
                            as_numpy(grad_context),
                        )
                else:
                    from kernels import _bev_pool_cupy as cp

                    cp.backward_context(grad_cells, dep, ranks, grad_context)
            b, n, _, h, w = ctx.depth_shape
            grad_context = grad_context.view(b, n, h, w, con.shape[2])
        return grad_depth, grad_context, None, None


def _index_arrays(ranks: BevPoolRanks, *names: str) -> tuple:
    return tuple(as_numpy(getattr(ranks, name)) for name in names)
