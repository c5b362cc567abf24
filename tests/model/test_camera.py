"""Camera branch: frustum geometry of the lift-splat transform and local pretrained weights."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.config import GridConfig, ImageConfig, ViewTransformConfig
from perception.model.camera import ImageEncoder, LiftSplat

from model_frames import camera


def test_frustum_points_lie_on_the_pixel_rays() -> None:
    cam = camera("CAM_FRONT", 0.3, 64, 128)
    vt = LiftSplat(8, ViewTransformConfig(depth_bins=4, depth_min=2.0, depth_max=10.0), GridConfig(), stride=8)
    k = torch.from_numpy(cam.intrinsics).float()[None]
    pose = torch.from_numpy(cam.cam_to_ego).float()[None]
    fr = vt.frustum(k, pose, 8, 16)
    assert fr.shape == (1, 4, 8, 16, 3)
    # project back: every frustum point lands on its feature pixel centre at its bin depth
    ego_to_cam = np.linalg.inv(cam.cam_to_ego)
    pts = fr[0].reshape(-1, 3).double().numpy() @ ego_to_cam[:3, :3].T + ego_to_cam[:3, 3]
    uvw = pts @ cam.intrinsics.T
    uv = (uvw[:, :2] / uvw[:, 2:]).reshape(4, 8, 16, 2)
    np.testing.assert_allclose(uv[0, 0, 0], [3.5, 3.5], atol=1e-4)
    np.testing.assert_allclose(uv[2, 7, 15], [15 * 8 + 3.5, 7 * 8 + 3.5], atol=1e-4)
    np.testing.assert_allclose(pts[:, 2].reshape(4, -1)[:, 0], [3.0, 5.0, 7.0, 9.0], atol=1e-4)


def test_camera_bev_of_a_front_camera_is_in_front() -> None:
    torch.manual_seed(0)
    grid = GridConfig(-20.0, 20.0, -20.0, 20.0, 1.0)
    vt = LiftSplat(8, ViewTransformConfig(depth_bins=8, depth_min=2.0, depth_max=18.0, channels=4), grid, stride=8)
    cam = camera("CAM_FRONT", 0.0, 64, 128)
    feats = torch.rand(1, 1, 8, 8, 16)
    bev, logits = vt(
        feats, torch.from_numpy(cam.intrinsics).float()[None, None],
        torch.from_numpy(cam.cam_to_ego).float()[None, None], torch.ones(1, 1, dtype=torch.bool),
    )
    assert bev.shape == (1, 4, 40, 40) and logits.shape == (1, 1, 8, 8, 16)
    energy = bev.abs().sum(dim=(0, 1))
    assert energy[:21].sum() == 0 and energy[21:].sum() > 0  # nothing behind x = 1 m (the camera)
    # an invalid camera contributes nothing
    bev0, _ = vt(feats, torch.from_numpy(cam.intrinsics).float()[None, None],
                 torch.from_numpy(cam.cam_to_ego).float()[None, None], torch.zeros(1, 1, dtype=torch.bool))
    assert bev0.abs().sum() == 0


def test_pretrained_accepts_only_a_local_file(tmp_path: Path) -> None:
    config = ImageConfig(backbone="regnetx_002")
    source = ImageEncoder(config)
    path = tmp_path / "backbone.pt"
    torch.save(source.backbone.state_dict(), path)
    loaded = ImageEncoder(dataclasses.replace(config, pretrained=str(path)))
    for a, b in zip(source.backbone.state_dict().values(), loaded.backbone.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(FileNotFoundError, match="not a local file"):
        ImageEncoder(dataclasses.replace(config, pretrained="timm/regnetx_002.pycls_in1k"))
