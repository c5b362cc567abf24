"""Numba CPU kernels for BEV pooling (interval reduction over ranks sorted by BEV cell).

Layouts: depth (B, P) with P = N*D*H*W, context (B, F, C) with F = N*H*W, output (B, C, X*Y).
Every output element is written by one loop iteration that sums in a fixed order, so the
result is deterministic whatever the thread schedule. The channel dot product of the depth
gradient may be reassociated (``fastmath={"reassoc"}``) so that it vectorizes: the compiled
order is still fixed, so the result is the same on every run. The reductions take intervals
(or features) by chunks of ``CHUNK``, one accumulator allocation per chunk.

The gradients read the output gradient cell-major, (B, X*Y, C); ``cell_major`` transposes it by
tiles of ``TILE`` cells (one cache line per channel plane), several times faster than a
strided torch copy, whose channel planes X*Y elements apart share cache sets.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 64


@njit(parallel=True, cache=True)
def forward(depth, context, depth_index, feat_index, bev_index, starts, lengths, out):  # pragma: no cover
    """out[b, :, cell] = sum over the cell's points of depth[b, d] * context[b, f, :]."""
    nb = depth.shape[0]
    ni = starts.shape[0]
    c = context.shape[2]
    nchunk = (ni + CHUNK - 1) // CHUNK
    for t in prange(nb * nchunk):
        b = t // nchunk
        k0 = (t - b * nchunk) * CHUNK
        acc = np.empty(c, dtype=out.dtype)
        for k in range(k0, min(k0 + CHUNK, ni)):
            acc[:] = 0
            s = starts[k]
            for p in range(s, s + lengths[k]):
                wgt = depth[b, depth_index[p]]
                f = feat_index[p]
                for j in range(c):
                    acc[j] += wgt * context[b, f, j]
            cell = bev_index[s]
            for j in range(c):
                out[b, j, cell] = acc[j]


TILE = 16


@njit(parallel=True, cache=True)
def cell_major(grad_out, grad_cells):  # pragma: no cover
    """grad_cells[b, cell, :] = grad_out[b, :, cell], by tiles of TILE cells."""
    nb = grad_out.shape[0]
    c = grad_out.shape[1]
    ncell = grad_out.shape[2]
    ntile = (ncell + TILE - 1) // TILE
    for t in prange(nb * ntile):
        b = t // ntile
        c0 = (t - b * ntile) * TILE
        width = min(TILE, ncell - c0)
        for j in range(c):
            for i in range(width):
                grad_cells[b, c0 + i, j] = grad_out[b, j, c0 + i]


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def backward_depth(grad_cells, context, depth_index, feat_index, bev_index, grad_depth):  # pragma: no cover
    """grad_depth[b, d] = <grad_out[b, :, cell], context[b, f, :]> (grad_cells is (B, X*Y, C))."""
    nb = grad_cells.shape[0]
    k = depth_index.shape[0]
    c = context.shape[2]
    for t in prange(nb * k):
        b = t // k
        p = t - b * k
        f = feat_index[p]
        cell = bev_index[p]
        acc = 0.0
        for j in range(c):
            acc += grad_cells[b, cell, j] * context[b, f, j]
        grad_depth[b, depth_index[p]] = acc


@njit(parallel=True, cache=True)
def backward_context(grad_cells, depth, depth_index, feat_index, bev_index, feat_order, feat_starts, feat_lengths, grad_context):  # pragma: no cover
    """grad_context[b, f, :] = sum over the points of feature f of depth[b, d] * grad_out[b, :, cell]."""
    nb = grad_cells.shape[0]
    nj = feat_starts.shape[0]
    c = grad_context.shape[2]
    nchunk = (nj + CHUNK - 1) // CHUNK
    for t in prange(nb * nchunk):
        b = t // nchunk
        k0 = (t - b * nchunk) * CHUNK
        acc = np.empty(c, dtype=grad_context.dtype)
        for k in range(k0, min(k0 + CHUNK, nj)):
            acc[:] = 0
            s = feat_starts[k]
            for q in range(s, s + feat_lengths[k]):
                p = feat_order[q]
                wgt = depth[b, depth_index[p]]
                cell = bev_index[p]
                for j in range(c):
                    acc[j] += wgt * grad_cells[b, cell, j]
            f = feat_index[feat_order[s]]
            for j in range(c):
                grad_context[b, f, j] = acc[j]
