"""BEV pooling: numba equals the frustum-materializing reference, gradcheck, ranks and cache."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_inputs import GRID, ring_frustum

import kernels


def _inputs(batch, ranks, c, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    n, d, h, w = ranks.shape
    depth = torch.rand(batch, n, d, h, w, generator=g, dtype=dtype).softmax(2)
    context = torch.randn(batch, n, h, w, c, generator=g, dtype=dtype)
    return depth, context


@pytest.mark.parametrize("cameras", [1, 6])
@pytest.mark.parametrize("batch", [1, 3])
def test_numba_equals_reference(cameras, batch):
    ranks = kernels.precompute_bev_pool(ring_frustum(cameras, 7, 4, 6), GRID)
    depth, context = _inputs(batch, ranks, 5)
    ref = kernels.bev_pool(depth, context, ranks, backend="reference")
    out = kernels.bev_pool(depth, context, ranks)
    assert out.shape == (batch, 5, GRID.nx, GRID.ny) == (batch, 5, 16, 8)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert (out.abs().sum(1) == 0).any()  # empty cells exist and stay zero
    assert torch.equal(out, kernels.bev_pool(depth, context, ranks))  # deterministic


def test_hand_computed_cell():
    frustum = torch.zeros(1, 2, 1, 2, 3, dtype=torch.float64)
    frustum[0, 0, 0, 0] = torch.tensor([0.5, 0.5, 0.0])  # cell (8, 4)
    frustum[0, 1, 0, 0] = torch.tensor([0.7, 1.5, 0.0])  # cell (8, 4)
    frustum[0, 0, 0, 1] = torch.tensor([-7.5, -7.5, 0.0])  # cell (0, 0)
    frustum[0, 1, 0, 1] = torch.tensor([8.0, 0.0, 0.0])  # x == xmax: outside
    ranks = kernels.precompute_bev_pool(frustum, GRID)
    depth = torch.tensor([[[[[0.25, 0.5]], [[0.75, 0.5]]]]], dtype=torch.float64)  # (1, 1, 2, 1, 2)
    context = torch.tensor([[[[[1.0, 2.0], [10.0, 20.0]]]]], dtype=torch.float64)  # (1, 1, 1, 2, 2)
    out = kernels.bev_pool(depth, context, ranks)
    assert out[0, :, 8, 4].tolist() == [1.0, 2.0]  # (0.25 + 0.75) * (1, 2)
    assert out[0, :, 0, 0].tolist() == [5.0, 10.0]
    assert out.abs().sum() == 18.0


def test_gradcheck_float64_both_inputs():
    coarse = kernels.BevPoolGeometry(-8.0, -8.0, -2.0, 8.0, 8.0, 2.0, 4.0, 8.0)  # few outputs: fast
    ranks = kernels.precompute_bev_pool(ring_frustum(2, 3, 2, 3), coarse)
    assert ranks.interval_starts.numel() > 1
    depth, context = _inputs(2, ranks, 3)
    depth.requires_grad_(True)
    context.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d, c: kernels.bev_pool(d, c, ranks), (depth, context))


def test_gradients_equal_reference():
    ranks = kernels.precompute_bev_pool(ring_frustum(3, 6, 3, 5), GRID)
    depth, context = _inputs(2, ranks, 4)
    depth.requires_grad_(True)
    context.requires_grad_(True)
    weights = torch.randn(2, 4, GRID.nx, GRID.ny, dtype=torch.float64)
    grads = [
        torch.autograd.grad((kernels.bev_pool(depth, context, ranks, backend=b) * weights).sum(), (depth, context))
        for b in ("reference", "numba")
    ]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_no_point_in_grid_gives_zeros_and_zero_grads():
    frustum = torch.full((2, 3, 2, 2, 3), 100.0)
    ranks = kernels.precompute_bev_pool(frustum, GRID)
    assert ranks.depth_index.numel() == 0
    depth, context = _inputs(1, ranks, 3, dtype=torch.float32)
    depth.requires_grad_(True)
    out = kernels.bev_pool(depth, context, ranks)
    assert out.shape == (1, 3, 16, 8) and (out == 0).all()
    (grad,) = torch.autograd.grad(out.sum(), depth)
    assert (grad == 0).all()


def test_ranks_sorted_with_intervals():
    frustum = ring_frustum(4, 5, 3, 4)
    frustum[0, 0, 0, 0] = float("nan")
    ranks = kernels.precompute_bev_pool(frustum, GRID)
    assert (ranks.bev_index[1:] >= ranks.bev_index[:-1]).all()
    assert int(ranks.interval_lengths.sum()) == ranks.depth_index.numel()
    assert (ranks.bev_index[ranks.interval_starts.long()].unique().numel()) == ranks.interval_starts.numel()
    assert 0 not in ranks.depth_index.tolist()  # the NaN point is dropped
    feat_sorted = ranks.feat_index[ranks.feat_order.long()]
    assert (feat_sorted[1:] >= feat_sorted[:-1]).all()


def test_cache_reuses_ranks_for_unchanged_rig():
    cache = kernels.BevPoolRanksCache(max_entries=2)
    frustum = ring_frustum(2, 4, 2, 3)
    r1 = cache.get(frustum, GRID)
    r2 = cache.get(frustum.clone(), GRID)
    assert r1 is r2 and cache.misses == 1
    moved = frustum.clone()
    moved[..., 0] += 0.5
    r3 = cache.get(moved, GRID)
    assert r3 is not r1 and cache.misses == 2
    cache.get(frustum, kernels.BevPoolGeometry(-8.0, -8.0, -2.0, 8.0, 8.0, 2.0, 2.0, 2.0))
    assert cache.misses == 3
    cache.get(frustum, GRID)  # evicted (max_entries=2): recomputed
    assert cache.misses == 4


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(0, 10**6))
def test_property_numba_equals_reference(cameras, bins, h, w, c, seed):
    g = torch.Generator().manual_seed(seed)
    frustum = torch.rand(cameras, bins, h, w, 3, generator=g, dtype=torch.float64) * 20 - 10
    frustum[..., 0] = torch.round(frustum[..., 0])  # many points exactly on cell borders
    ranks = kernels.precompute_bev_pool(frustum, GRID)
    depth, context = _inputs(2, ranks, c, seed=seed)
    torch.testing.assert_close(
        kernels.bev_pool(depth, context, ranks), kernels.bev_pool(depth, context, ranks, backend="reference"),
        rtol=1e-12, atol=1e-12,
    )


def test_bad_arguments_raise():
    ranks = kernels.precompute_bev_pool(ring_frustum(2, 3, 2, 2), GRID)
    depth, context = _inputs(1, ranks, 3)
    with pytest.raises(ValueError, match="ranks were built"):
        kernels.bev_pool(depth[:, :1], context[:, :1], ranks)
    with pytest.raises(ValueError, match="context is"):
        kernels.bev_pool(depth, context.float(), ranks)
    with pytest.raises(ValueError, match="context shape"):
        kernels.bev_pool(depth, context[:, :, :1], ranks)
    with pytest.raises(ValueError, match="dimensions"):
        kernels.bev_pool(depth[0], context, ranks)
    with pytest.raises(ValueError, match="cupy"):
        kernels.bev_pool(depth, context, ranks, backend="cupy")
    with pytest.raises(ValueError, match="last dimension"):
        kernels.precompute_bev_pool(torch.zeros(1, 2, 2, 2, 2), GRID)
    with pytest.raises(ValueError, match="inverted"):
        kernels.BevPoolGeometry(1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="cell sizes"):
        kernels.BevPoolGeometry(0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.1)
    with pytest.raises(TypeError, match="BevPoolGeometry"):
        kernels.precompute_bev_pool(ring_frustum(1, 1, 1, 1), object())


def test_thread_count_does_not_change_results(monkeypatch):
    import kernels._dispatch as dispatch

    ranks = kernels.precompute_bev_pool(ring_frustum(6, 8, 4, 6), GRID)
    depth, context = _inputs(2, ranks, 16, dtype=torch.float32)
    depth.requires_grad_(True)
    serial = kernels.bev_pool(depth, context, ranks)
    (grad_serial,) = torch.autograd.grad(serial.sum(), depth)
    monkeypatch.setattr(dispatch, "PARALLEL_GRAIN", 1)  # every parallel region on all threads
    parallel = kernels.bev_pool(depth, context, ranks)
    (grad_parallel,) = torch.autograd.grad(parallel.sum(), depth)
    assert torch.equal(serial, parallel) and torch.equal(grad_serial, grad_parallel)
