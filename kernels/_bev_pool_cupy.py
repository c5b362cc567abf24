"""CuPy ``RawKernel``s for BEV pooling forward and backward (imported lazily, CUDA only).

Memory is shared with torch through DLPack and the kernels run on torch's current stream.
Layouts are as in the Numba kernels: depth (B, P), context (B, F, C), output (B, C, X*Y),
output gradient transposed to (B, X*Y, C). One thread per output element, fixed summation
order: deterministic, no atomics.
"""

from __future__ import annotations

import torch

SOURCE = r"""
extern "C" __global__ void bev_pool_forward(
    const SCALAR* __restrict__ depth, const SCALAR* __restrict__ context,
    const int* __restrict__ depth_index, const int* __restrict__ feat_index,
    const int* __restrict__ bev_index, const int* __restrict__ starts,
    const int* __restrict__ lengths, int batch, int intervals, int channels,
    long long depth_stride, long long feat_stride, long long cells, SCALAR* __restrict__ out)
{
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long)batch * intervals * channels) return;
    int c = (int)(t % channels);
    long long r = t / channels;
    int k = (int)(r % intervals);
    int b = (int)(r / intervals);
    const SCALAR* dep = depth + b * depth_stride;
    const SCALAR* ctx = context + b * feat_stride * channels;
    int s = starts[k];
    int e = s + lengths[k];
    SCALAR acc = 0;
    for (int p = s; p < e; ++p) {
        acc += dep[depth_index[p]] * ctx[(long long)feat_index[p] * channels + c];
    }
    out[((long long)b * channels + c) * cells + bev_index[s]] = acc;
}

extern "C" __global__ void bev_pool_backward_depth(
    const SCALAR* __restrict__ grad_cells, const SCALAR* __restrict__ context,
    const int* __restrict__ depth_index, const int* __restrict__ feat_index,
    const int* __restrict__ bev_index, int batch, int points, int channels,
    long long depth_stride, long long feat_stride, long long cells, SCALAR* __restrict__ grad_depth)
{
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long)batch * points) return;
    int p = (int)(t % points);
    int b = (int)(t / points);
    const SCALAR* g = grad_cells + ((long long)b * cells + bev_index[p]) * channels;
    const SCALAR* ctx = context + ((long long)b * feat_stride + feat_index[p]) * channels;
    SCALAR acc = 0;
    for (int c = 0; c < channels; ++c) acc += g[c] * ctx[c];
    grad_depth[b * depth_stride + depth_index[p]] = acc;
}

extern "C" __global__ void bev_pool_backward_context(
    const SCALAR* __restrict__ grad_cells, const SCALAR* __restrict__ depth,
    const int* __restrict__ depth_index, const int* __restrict__ feat_index,
    const int* __restrict__ bev_index, const int* __restrict__ feat_order,
    const int* __restrict__ feat_starts, const int* __restrict__ feat_lengths,
    int batch, int intervals, int channels, long long depth_stride, long long feat_stride,
    long long cells, SCALAR* __restrict__ grad_context)
{
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long)batch * intervals * channels) return;
    int c = (int)(t % channels);
    long long r = t / channels;
    int k = (int)(r % intervals);
    int b = (int)(r / intervals);
    int s = feat_starts[k];
    int e = s + feat_lengths[k];
    SCALAR acc = 0;
    for (int q = s; q < e; ++q) {
        int p = feat_order[q];
        acc += depth[b * depth_stride + depth_index[p]]
             * grad_cells[((long long)b * cells + bev_index[p]) * channels + c];
    }
    grad_context[((long long)b * feat_stride + feat_index[feat_order[s]]) * channels + c] = acc;
}
"""

_SCALARS = {torch.float32: "float", torch.float64: "double"}
_THREADS = 256


def source_for(dtype: torch.dtype) -> str:
    """CUDA C source of the three kernels for a float32 or float64 scalar type."""
    return SOURCE.replace("SCALAR", _SCALARS[dtype])


def _cupy():
    """The cupy module; ImportError naming the ``cuda`` extra when it is not installed."""
    try:
        import cupy
    except ImportError:
        raise ImportError('bev_pool backend "cupy" needs CuPy: pip install -e ".[cuda]"') from None
    return cupy


def _kernel(name: str, dtype: torch.dtype):
    return _cupy().RawKernel(source_for(dtype), name)  # CuPy caches compiled modules on disk


def _launch(name: str, dtype: torch.dtype, device: torch.device, work: int, args: tuple) -> None:
    cupy = _cupy()

    kernel = _kernel(name, dtype)
    blocks = max(1, (work + _THREADS - 1) // _THREADS)
    with cupy.cuda.Device(device.index or 0), cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream):
        cupy_args = tuple(cupy.from_dlpack(a) if isinstance(a, torch.Tensor) else a for a in args)
        kernel((blocks,), (_THREADS,), cupy_args)


def forward(depth, context, ranks, out) -> None:
    """out (B, C, X*Y) <- pooled depth (B, P) x context (B, F, C)."""
    import numpy as np

    b, _ = depth.shape
    c = context.shape[2]
    intervals = ranks.interval_starts.numel()
    args = (
        depth, context, ranks.depth_index, ranks.feat_index, ranks.bev_index,
        ranks.interval_starts, ranks.interval_lengths, np.int32(b), np.int32(intervals), np.int32(c),
        np.int64(depth.shape[1]), np.int64(context.shape[1]), np.int64(out.shape[2]), out,
    )
    _launch("bev_pool_forward", depth.dtype, depth.device, b * intervals * c, args)


def backward_depth(grad_cells, context, ranks, grad_depth) -> None:
    """grad_depth (B, P) from grad_cells (B, X*Y, C) and context (B, F, C)."""
    import numpy as np

    b = grad_cells.shape[0]
    points = ranks.depth_index.numel()
    args = (
        grad_cells, context, ranks.depth_index, ranks.feat_index, ranks.bev_index,
        np.int32(b), np.int32(points), np.int32(context.shape[2]), np.int64(grad_depth.shape[1]),
        np.int64(context.shape[1]), np.int64(grad_cells.shape[1]), grad_depth,
    )
    _launch("bev_pool_backward_depth", grad_cells.dtype, grad_cells.device, b * points, args)


def backward_context(grad_cells, depth, ranks, grad_context) -> None:
    """grad_context (B, F, C) from grad_cells (B, X*Y, C) and depth (B, P)."""
    import numpy as np

    b = grad_cells.shape[0]
    c = grad_context.shape[2]
    intervals = ranks.feat_starts.numel()
    args = (
        grad_cells, depth, ranks.depth_index, ranks.feat_index, ranks.bev_index, ranks.feat_order,
        ranks.feat_starts, ranks.feat_lengths, np.int32(b), np.int32(intervals), np.int32(c),
        np.int64(depth.shape[1]), np.int64(grad_context.shape[1]), np.int64(grad_cells.shape[1]),
        grad_context,
    )
    _launch("bev_pool_backward_context", grad_cells.dtype, grad_cells.device, b * intervals * c, args)
