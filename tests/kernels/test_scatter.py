"""Pillar scatter: numba equals the reference, highest row wins duplicates, gradcheck passes."""

from __future__ import annotations

import pytest
import torch

import kernels


def _inputs(m=80, c=6, batch=2, grid=(7, 9), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(m, c, generator=g, dtype=dtype)
    coords = torch.stack(
        [
            torch.randint(0, batch, (m,), generator=g),
            torch.randint(0, grid[0], (m,), generator=g),
            torch.randint(0, grid[1], (m,), generator=g),
            torch.zeros(m, dtype=torch.long),
        ],
        1,
    ).int()
    return features, coords, batch, grid


def test_layout_b_c_x_y():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    coords = torch.tensor([[0, 2, 1, 0], [1, 0, 3, 0]], dtype=torch.int32)
    for backend in ("reference", "numba"):
        canvas = kernels.pillar_scatter(features, coords, 2, (3, 4), backend=backend)
        assert canvas.shape == (2, 2, 3, 4)
        assert canvas[0, :, 2, 1].tolist() == [1.0, 2.0]
        assert canvas[1, :, 0, 3].tolist() == [3.0, 4.0]
        assert canvas.abs().sum() == 10.0


def test_duplicates_highest_index_wins_and_gets_gradient():
    features = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    coords = torch.tensor([[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=torch.int32)
    for backend in ("reference", "numba"):
        canvas = kernels.pillar_scatter(features, coords, 1, (2, 2), backend=backend)
        assert canvas[0, 0, 1, 1] == 2.0
        (grad,) = torch.autograd.grad(canvas.sum(), features)
        assert grad.flatten().tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("m", [0, 1, 80, 400])
def test_numba_equals_reference_with_grad(seed, m):
    features, coords, batch, grid = _inputs(m=m, seed=seed)
    features.requires_grad_(True)
    weights = torch.randn(batch, features.shape[1], *grid, dtype=torch.float64)
    outs, grads = [], []
    for backend in ("reference", "numba"):
        out = kernels.pillar_scatter(features, coords, batch, grid, backend=backend)
        outs.append(out)
        grads.append(torch.autograd.grad((out * weights).sum(), features, allow_unused=True)[0])
    assert torch.equal(outs[0], outs[1])
    if m:
        assert torch.equal(grads[0], grads[1])


def test_gradcheck_float64():
    features, coords, batch, grid = _inputs(m=12, c=2, grid=(3, 3))
    features.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: kernels.pillar_scatter(f, coords, batch, grid), (features,))


def test_float32_and_int64_coords():
    features, coords, batch, grid = _inputs(dtype=torch.float32)
    a = kernels.pillar_scatter(features, coords.long(), batch, grid)
    assert a.dtype == torch.float32
    assert torch.equal(a, kernels.pillar_scatter(features, coords, batch, grid, backend="reference"))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"coords": torch.tensor([[0, 9, 0, 0]], dtype=torch.int32)}, "out of range"),
        ({"coords": torch.tensor([[0, -1, 0, 0]], dtype=torch.int32)}, "out of range"),
        ({"coords": torch.tensor([[2, 0, 0, 0]], dtype=torch.int32)}, "out of range"),
        ({"coords": torch.tensor([[0, 0, 0]], dtype=torch.int32)}, "last dimension"),
        ({"coords": torch.tensor([[0, 0, 0, 0]], dtype=torch.float32)}, "dtype"),
        ({"features": torch.zeros(1, 2, dtype=torch.int32)}, "dtype"),
        ({"features": torch.zeros(2, 2)}, "rows"),
        ({"grid_xy": (0, 3)}, "grid_xy"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise(change, match):
    args = {"features": torch.zeros(1, 2), "coords": torch.tensor([[0, 1, 1, 0]], dtype=torch.int32), "batch_size": 2, "grid_xy": (3, 3)}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        kernels.pillar_scatter(**args)
