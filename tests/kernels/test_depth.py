"""points_to_depth: numba equals the reference; nearest point, pixel convention, drops."""

from __future__ import annotations

import pytest
import torch

import kernels

# ego x forward, y left, z up -> camera x right, y down, z forward; camera at the origin
EGO_TO_CAM = torch.tensor([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
K = torch.tensor([[10.0, 0, 8], [0, 10, 6], [0, 0, 1]])
HW = (12, 16)


def test_nearest_point_and_pixel_convention():
    points = torch.tensor(
        [
            [5.0, 0.0, 0.0],  # u = 8, v = 6
            [3.0, 0.0, 0.0],  # same pixel, nearer
            [4.0, 0.0, 0.0],
            [2.0, -0.09, 0.0],  # u = 8.45 -> column 8 (centre at integers)
            [2.0, -0.11, 0.0],  # u = 8.55 -> column 9
            [-3.0, 0.0, 0.0],  # behind the camera
            [0.05, 0.0, 0.0],  # closer than min_depth
            [float("nan"), 0.0, 0.0],
            [1.0, -10.0, 0.0],  # outside the image
        ]
    )
    for backend in ("reference", "numba"):
        image = kernels.points_to_depth(points, EGO_TO_CAM, K, HW, backend=backend)
        assert image.shape == HW and image.dtype == torch.float32
        assert image[6, 8] == 2.0 and image[6, 9] == 2.0
        assert int((image > 0).sum()) == 2


@pytest.mark.parametrize("n", [0, 1, 500, 20000])
def test_numba_equals_reference_random(n):
    g = torch.Generator().manual_seed(n)
    points = torch.randn(n, 4, generator=g) * 6
    points[:, 0] += 4
    pose = EGO_TO_CAM.clone()
    pose[:3, 3] = torch.tensor([0.1, -0.2, 0.3])
    a = kernels.points_to_depth(points, pose, K, HW, backend="reference")
    b = kernels.points_to_depth(points, pose, K, HW)
    assert torch.equal(a, b)
    if n > 1000:
        assert (b > 0).sum() > 50


def test_duplicates_and_float64_input():
    points = torch.tensor([[4.0, 0.5, 0.5]] * 5 + [[6.0, 0.5, 0.5]], dtype=torch.float64)
    image = kernels.points_to_depth(points, EGO_TO_CAM.double(), K.double(), HW)
    assert image.max() == 4.0 and int((image > 0).sum()) == 1


@pytest.mark.parametrize(
    "change, match",
    [
        ({"points_xyz": torch.zeros(3, 2)}, "columns"),
        ({"points_xyz": torch.zeros(3, 3, dtype=torch.int64)}, "dtype"),
        ({"ego_to_cam": torch.eye(3)}, r"\(4, 4\)"),
        ({"K": torch.eye(4)}, r"\(3, 3\)"),
        ({"K": torch.full((3, 3), float("nan"))}, "finite"),
        ({"image_hw": (0, 4)}, "image_hw"),
        ({"min_depth": -1.0}, "min_depth"),
    ],
)
def test_bad_arguments_raise(change, match):
    args = {"points_xyz": torch.zeros(3, 3), "ego_to_cam": EGO_TO_CAM, "K": K, "image_hw": HW}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        kernels.points_to_depth(**args)
