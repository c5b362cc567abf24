"""Voxelization: numba CPU equals the torch reference exactly; semantics checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kernels

RANGE = (-4.0, -4.0, -2.0, 4.0, 4.0, 2.0)
SIZE = (0.5, 0.5, 1.0)


def _both(points, max_points=4, max_voxels=50, size=SIZE, prange=RANGE):
    a = kernels.hard_voxelize(points, size, prange, max_points, max_voxels, backend="reference")
    b = kernels.hard_voxelize(points, size, prange, max_points, max_voxels, backend="numba")
    return a, b


def _assert_equal(a: kernels.Voxels, b: kernels.Voxels) -> None:
    assert a.features.shape == b.features.shape
    assert torch.equal(a.features, b.features)
    assert torch.equal(a.coords, b.coords) and b.coords.dtype == torch.int32
    assert torch.equal(a.num_points, b.num_points) and b.num_points.dtype == torch.int32


def _adversarial() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    one_voxel = torch.full((40, 4), 0.1)
    one_voxel[:, 3] = torch.arange(40.0)
    outside = torch.tensor([[10.0, 0, 0, 1], [0, -10, 0, 2], [0, 0, 5, 3]]).repeat(5, 1)
    boundary = torch.tensor(
        [[-4.0, -4.0, -2.0, 1], [4.0, 0, 0, 2], [0, 4.0, 0, 3], [0, 0, 2.0, 4], [3.9999998, 3.9999998, 1.9999999, 5],
         [0.5, 0.5, 0.0, 6], [-0.0, 0.0, -0.0, 7]]
    )
    bad = torch.tensor([[float("nan"), 0, 0, 1], [0, float("inf"), 0, 2], [0, 0, -float("inf"), 3], [0.1, 0.1, 0.1, 4]])
    dupes = torch.rand(20, 4).repeat(3, 1)
    many = torch.rand(2000, 4) * 9 - 4.5
    return {
        "one_voxel": one_voxel,
        "outside": outside,
        "boundary": boundary,
        "nan_inf": bad,
        "duplicates": dupes,
        "overflow": many,
        "empty": torch.zeros((0, 4)),
    }


@pytest.mark.parametrize("name", list(_adversarial()))
@pytest.mark.parametrize("limits", [(4, 50), (1, 1), (64, 100000)])
def test_hard_numba_equals_reference_adversarial(name, limits):
    points = _adversarial()[name]
    a, b = _both(points, *limits)
    _assert_equal(a, b)
    assert b.features.shape[0] <= limits[1] and (b.num_points <= limits[0]).all()


def test_hand_computed_semantics():
    pts = torch.tensor(
        [
            [0.1, 0.1, 0.1, 1.0],  # voxel A (ix 8, iy 8, iz 2)
            [-3.9, 0.1, 0.1, 2.0],  # voxel B (0, 8, 2)
            [0.2, 0.2, 0.2, 3.0],  # A
            [4.0, 0.0, 0.0, 4.0],  # x == xmax: dropped (half-open)
            [0.3, 0.3, 0.3, 5.0],  # A, over max_points=2: dropped
            [float("nan"), 0, 0, 6.0],  # dropped
            [-4.0, -4.0, -2.0, 7.0],  # voxel C (0, 0, 0): lower bound kept
        ]
    )
    for backend in ("reference", "numba"):
        v = kernels.hard_voxelize(pts, SIZE, RANGE, max_points=2, max_voxels=2, backend=backend)
        assert v.coords.tolist() == [[8, 8, 2], [0, 8, 2]]  # first appearance; C overflows
        assert v.num_points.tolist() == [2, 1]
        assert v.features[0, :, 3].tolist() == [1.0, 3.0]
        assert v.features[1, :, 3].tolist() == [2.0, 0.0]  # zero padding
        d = kernels.dynamic_voxelize(pts, SIZE, RANGE, backend=backend)
        assert d.tolist() == [[8, 8, 2], [0, 8, 2], [8, 8, 2], [-1, -1, -1], [8, 8, 2], [-1, -1, -1], [0, 0, 0]]


def test_random_large_equal_and_deterministic():
    torch.manual_seed(1)
    pts = torch.randn(30000, 5) * 2
    a, b = _both(pts, 5, 3000, size=(0.2, 0.2, 0.3))
    _assert_equal(a, b)
    _assert_equal(b, kernels.hard_voxelize(pts, (0.2, 0.2, 0.3), RANGE, 5, 3000))
    da = kernels.dynamic_voxelize(pts, (0.2, 0.2, 0.3), RANGE, backend="reference")
    assert torch.equal(da, kernels.dynamic_voxelize(pts, (0.2, 0.2, 0.3), RANGE))


def test_features_are_the_points_of_their_voxel():
    torch.manual_seed(2)
    pts = torch.rand(500, 3) * torch.tensor([8.0, 8.0, 4.0]) - torch.tensor([4.0, 4.0, 2.0])
    v = kernels.hard_voxelize(pts, SIZE, RANGE, 100, 10000)
    assert int(v.num_points.sum()) == 500
    for m in range(v.coords.shape[0]):
        real = v.features[m, : v.num_points[m]]
        idx = torch.floor((real.double() - torch.tensor(RANGE[:3]).double()) / torch.tensor(SIZE).double()).int()
        assert (idx == v.coords[m]).all()
        assert (v.features[m, v.num_points[m] :] == 0).all()


def test_batch_prepends_batch_index():
    torch.manual_seed(3)
    p0, p1 = torch.rand(50, 4) * 4, torch.rand(30, 4) * 4 - 4
    v = kernels.hard_voxelize_batch([p0, p1], SIZE, RANGE, 3, 1000)
    s0 = kernels.hard_voxelize(p0, SIZE, RANGE, 3, 1000)
    s1 = kernels.hard_voxelize(p1, SIZE, RANGE, 3, 1000)
    m0 = s0.coords.shape[0]
    assert v.coords.shape == (m0 + s1.coords.shape[0], 4)
    assert (v.coords[:m0, 0] == 0).all() and (v.coords[m0:, 0] == 1).all()
    assert torch.equal(v.coords[m0:, 1:], s1.coords)
    assert torch.equal(v.features[:m0], s0.features)


coordinate = st.sampled_from([-4.0, -3.5, -0.5, 0.0, 0.25, 0.5, 3.75, 4.0, float("nan"), 1e30]) | st.floats(
    -5, 5, width=32
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(coordinate, coordinate, coordinate, st.floats(-1, 1, width=32)), max_size=60),
    st.integers(1, 5),
    st.integers(1, 20),
)
def test_property_numba_equals_reference(rows, max_points, max_voxels):
    pts = torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)
    a, b = _both(pts, max_points, max_voxels)
    _assert_equal(a, b)
    assert torch.equal(
        kernels.dynamic_voxelize(pts, SIZE, RANGE, backend="reference"), kernels.dynamic_voxelize(pts, SIZE, RANGE)
    )
    # every kept voxel is one a point maps to, numbered by first appearance
    d = kernels.dynamic_voxelize(pts, SIZE, RANGE)
    firsts = []
    for row in d.tolist():
        if row[0] >= 0 and row not in firsts:
            firsts.append(row)
    assert b.coords.tolist() == firsts[:max_voxels]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"points": torch.zeros(5, 4, dtype=torch.float64)}, "dtype"),
        ({"points": torch.zeros(5, 2)}, "columns"),
        ({"points": torch.zeros(5)}, "dimensions"),
        ({"voxel_size": (0.1, 0.0, 0.1)}, "voxel_size"),
        ({"voxel_size": (0.1, 0.1)}, "voxel_size"),
        ({"point_range": (1, 0, 0, 0, 1, 1)}, "inverted"),
        ({"point_range": (0, 0, 0, 1, 1)}, "point_range"),
        ({"max_points": 0}, "max_points"),
        ({"max_voxels": -1}, "max_voxels"),
        ({"backend": "cupy"}, "not available"),
        ({"backend": "numba_cuda"}, "CUDA"),
        ({"backend": "fast"}, "unknown backend"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"points": torch.zeros(5, 4), "voxel_size": SIZE, "point_range": RANGE, "max_points": 2, "max_voxels": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        kernels.hard_voxelize(**args)


def test_numba_key_kernel_matches_numpy_floor():
    from kernels import _voxelize_numba as nb

    pts = np.array([[0.24999999, -3.9999, 1.9999]], dtype=np.float32)
    keys = np.empty(1, dtype=np.int64)
    nb.point_keys(pts, np.array(RANGE[:3]), np.array(RANGE[3:]), np.array(SIZE), np.array([16, 16, 4]), keys)
    ix, iy, iz = (np.floor((pts[0].astype(np.float64) - np.array(RANGE[:3])) / np.array(SIZE))).astype(int)
    assert keys[0] == (ix * 16 + iy) * 4 + iz


def test_batch_bad_arguments_raise():
    with pytest.raises(ValueError, match="non-empty"):
        kernels.hard_voxelize_batch([], SIZE, RANGE, 2, 2)
    with pytest.raises(ValueError, match="same number of columns"):
        kernels.hard_voxelize_batch([torch.zeros(3, 4), torch.zeros(3, 5)], SIZE, RANGE, 2, 2)
    with pytest.raises(ValueError, match="dtype"):
        kernels.hard_voxelize_batch([torch.zeros(3, 4), torch.zeros(3, 4, dtype=torch.float16)], SIZE, RANGE, 2, 2)
