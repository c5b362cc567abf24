"""Map and depth heads: grid resampling, the LiDAR skip of the map head, the image-guided depth refinement."""
from __future__ import annotations

import pytest
import torch

from perception.config import (
    DepthHeadConfig,
    LidarConfig,
    SegmentationHeadConfig,
    ViewTransformConfig,
)
from perception.model.camera import DepthBins
from perception.model.heads import DepthHead, Features, SegmentationHead, resample_bev
from perception.model.lidar import PillarEncoder
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid


def test_resample_is_identity_on_the_same_grid() -> None:
    grid = BevGrid(-4.0, 4.0, -4.0, 4.0, 1.0)
    x = torch.randn(2, 3, 8, 8)
    assert resample_bev(x, grid, grid) is x


def test_resample_reproduces_a_linear_field_inside_the_source() -> None:
    src = BevGrid(-8.0, 8.0, -8.0, 8.0, 1.0)
    dst = BevGrid(-6.0, 6.0, -5.0, 5.0, 0.5)  # strictly inside: bilinear is exact for a linear field
    xs, ys = (torch.as_tensor(c, dtype=torch.float32) for c in src.cell_centers())
    field = (2.0 * xs[:, None] - 3.0 * ys[None, :] + 1.0)[None, None]
    out = resample_bev(field, src, dst)
    dx, dy = (torch.as_tensor(c, dtype=torch.float32) for c in dst.cell_centers())
    assert out.shape == (1, 1, *dst.shape)
    torch.testing.assert_close(out[0, 0], 2.0 * dx[:, None] - 3.0 * dy[None, :] + 1.0, atol=1e-4, rtol=0)


def test_pillar_canvas_grid_is_the_voxel_grid() -> None:
    config = LidarConfig(voxel_size=(0.4, 0.4, 8.0), point_range=(-12.8, -12.8, -5.0, 12.8, 12.8, 3.0))
    encoder = PillarEncoder(config, BevGrid(-12.8, 12.8, -12.8, 12.8, 0.8))
    assert encoder.canvas_grid == BevGrid(-12.8, 12.8, -12.8, 12.8, 0.4)
    encoder.eval()
    points = [torch.tensor([[1.0, 2.0, 0.0, 200.0, 0.0], [-3.0, 0.5, 0.5, 10.0, 0.0]])]
    with torch.no_grad():
        bev, canvas = encoder(points, torch.tensor([True]))
    assert bev.shape == (1, config.channels, 32, 32) and canvas.shape == (1, config.channels, 64, 64)
    occupied = canvas.abs().sum(1)[0].nonzero().tolist()
    assert sorted(occupied) == sorted([[int((1.0 + 12.8) / 0.4), int((2.0 + 12.8) / 0.4)],
                                       [int((-3.0 + 12.8) / 0.4), int((0.5 + 12.8) / 0.4)]])


def test_non_square_pillars_are_rejected() -> None:
    config = LidarConfig(voxel_size=(0.4, 0.2, 8.0), point_range=(-12.8, -12.8, -5.0, 12.8, 12.8, 3.0))
    with pytest.raises(ValueError, match="square"):
        PillarEncoder(config, BevGrid(-12.8, 12.8, -12.8, 12.8, 0.8))


def _bev_features(bev: torch.Tensor, canvas: torch.Tensor | None) -> Features:
    present = torch.ones(bev.shape[0], dtype=torch.bool)
    return Features(present, present, torch.zeros(bev.shape[0], 0, 3, 1, 1), bev=bev, lidar_canvas=canvas)


def _depth_head() -> DepthHead:
    torch.manual_seed(0)
    return DepthHead(8, DepthHeadConfig(channels=8, guide_channels=4), DepthBins(ViewTransformConfig()), 8).eval()


def _seg_head() -> SegmentationHead:
    torch.manual_seed(0)
    config = SegmentationHeadConfig(channels=8, fine_channels=8, grid=BevGrid(-8.0, 8.0, -8.0, 8.0, 0.5))
    head = SegmentationHead(6, config, BevGrid(-9.6, 9.6, -9.6, 9.6, 0.8), lidar_channels=4,
                            lidar_grid=BevGrid(-9.6, 9.6, -9.6, 9.6, 0.4))
    return head.eval()


def test_map_head_reads_the_fine_lidar_canvas() -> None:
    head = _seg_head()
    bev = torch.randn(1, 6, 24, 24)
    canvas = torch.zeros(1, 4, 48, 48)
    with torch.no_grad():
        plain = head(_bev_features(bev, canvas))
        assert plain.shape == (1, len(MAP_CLASSES), 32, 32)
        torch.testing.assert_close(head(_bev_features(bev, None)), plain)  # no LiDAR = an empty canvas
        canvas[0, :, 24, 24] = 5.0  # one bright pillar at x, y in [0, 0.4) m
        changed = (head(_bev_features(bev, canvas)) - plain).abs().sum(1)[0]
    cells = changed.nonzero()
    assert len(cells) > 0
    # only map cells within the 3 x 3 receptive field of the two fine convs around (0.2, 0.2) m move
    centres = (cells.float() + 0.5) * 0.5 - 8.0
    assert bool(((centres - 0.2).abs() <= 1.5 + 0.5).all())


def test_map_head_needs_the_lidar_grid() -> None:
    config = SegmentationHeadConfig(channels=8, fine_channels=8)
    with pytest.raises(ValueError, match="lidar_grid"):
        SegmentationHead(6, config, BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8), lidar_channels=4)


def test_untrained_depth_head_returns_the_expected_depth() -> None:
    head = _depth_head()
    features = torch.randn(3, 8, 4, 11)
    expected = torch.full((3, 1, 4, 11), 12.5)
    with torch.no_grad():
        depth = head.refine_depth(features, expected, torch.randn(3, 3, 32, 88))
    assert depth.shape == (3, 32, 88)
    torch.testing.assert_close(depth, torch.full_like(depth, 12.5))


def test_trained_depth_refinement_follows_image_edges() -> None:
    head = _depth_head()
    torch.nn.init.normal_(head.refine[-1].weight, std=0.1)
    features = torch.randn(1, 8, 4, 11)
    expected = torch.full((1, 1, 4, 11), 12.5)
    images = torch.randn(1, 3, 32, 88, requires_grad=True)
    depth = head.refine_depth(features, expected, images)
    depth[0, 10, 40].backward()
    grad = images.grad.abs().sum(1)[0]
    assert grad[10, 40] > 0  # the pixel's own colour now matters
    assert grad[:, :30].sum() == 0 and grad[:3].sum() == 0  # and only its neighbourhood
