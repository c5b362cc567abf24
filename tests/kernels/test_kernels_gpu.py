"""Real-GPU runs: CuPy bev_pool and the Numba CUDA kernels against the reference (marked gpu).

The CUDA C source of the CuPy kernels is also compile-checked with nvcc where it is installed,
which needs no GPU.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch
from kernel_inputs import GRID, ring_frustum

import kernels
from kernels import _bev_pool_cupy

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cupy_source_compiles_with_nvcc(tmp_path, dtype):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not installed")
    src = tmp_path / "bev_pool.cu"
    src.write_text(_bev_pool_cupy.source_for(dtype))
    proc = subprocess.run([nvcc, "-ptx", str(src), "-o", str(tmp_path / "bev_pool.ptx")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ptx = (tmp_path / "bev_pool.ptx").read_text()
    for name in ("bev_pool_forward", "bev_pool_backward_depth", "bev_pool_backward_context"):
        assert f".entry {name}" in ptx


def _rig(device, dtype):
    ranks = kernels.precompute_bev_pool(ring_frustum(6, 12, 8, 22).to(device), GRID)
    g = torch.Generator(device="cpu").manual_seed(0)
    depth = torch.rand(2, 6, 12, 8, 22, generator=g, dtype=dtype).softmax(2).to(device)
    context = torch.randn(2, 6, 8, 22, 16, generator=g, dtype=dtype).to(device)
    return ranks, depth, context


@pytest.mark.gpu
@needs_gpu
def test_cupy_bev_pool_equals_reference_with_grads():
    ranks, depth, context = _rig("cuda", torch.float32)
    depth.requires_grad_(True)
    context.requires_grad_(True)
    weights = torch.randn(2, 16, ranks.nx, ranks.ny, device="cuda")
    res = []
    for backend in ("reference", "cupy"):
        out = kernels.bev_pool(depth, context, ranks, backend=backend)
        res.append((out, *torch.autograd.grad((out * weights).sum(), (depth, context))))
    for a, b in zip(*res):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert torch.equal(res[1][0], kernels.bev_pool(depth, context, ranks))  # deterministic


@pytest.mark.gpu
@needs_gpu
def test_cupy_bev_pool_gradcheck_float64():
    coarse = kernels.BevPoolGeometry(-8.0, -8.0, -2.0, 8.0, 8.0, 2.0, 4.0, 8.0)
    ranks = kernels.precompute_bev_pool(ring_frustum(2, 3, 2, 3).cuda(), coarse)
    depth = torch.rand(2, 2, 3, 2, 3, dtype=torch.float64, device="cuda", requires_grad=True)
    context = torch.rand(2, 2, 2, 3, 3, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(lambda d, c: kernels.bev_pool(d, c, ranks, backend="cupy"), (depth, context))


@pytest.mark.gpu
@needs_gpu
def test_numba_cuda_ops_equal_reference_on_gpu():
    g = torch.Generator().manual_seed(1)
    pts = (torch.rand(200000, 5, generator=g) * 110 - 55).cuda()
    args = ((0.2, 0.2, 0.5), (-54.0, -54.0, -5.0, 54.0, 54.0, 3.0), 10, 60000)
    a = kernels.hard_voxelize(pts, *args, backend="reference")
    b = kernels.hard_voxelize(pts, *args)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(kernels.dynamic_voxelize(pts, *args[:2]), kernels.dynamic_voxelize(pts, *args[:2], backend="reference"))
    coords = kernels.hard_voxelize_batch([pts, pts[:1000]], *args).coords
    feats = torch.randn(coords.shape[0], 8, device="cuda")
    torch.testing.assert_close(
        kernels.pillar_scatter(feats, coords, 2, (540, 540)),
        kernels.pillar_scatter(feats, coords, 2, (540, 540), backend="reference"),
    )
    pose = torch.tensor([[0.0, -1, 0, 0], [0, 0, -1, 1.5], [1, 0, 0, 0], [0, 0, 0, 1]], device="cuda")
    k = torch.tensor([[500.0, 0, 400], [0, 500, 225], [0, 0, 1]], device="cuda")
    torch.testing.assert_close(
        kernels.points_to_depth(pts, pose, k, (450, 800)),
        kernels.points_to_depth(pts, pose, k, (450, 800), backend="reference"),
    )
