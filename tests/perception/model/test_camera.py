"""Camera branch: frustum geometry of the lift-splat transform and local pretrained weights."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from model_frames import camera

from perception.config import ImageConfig, ViewTransformConfig
from perception.model.camera import ImageEncoder, LiftSplat
from sensors.frame import BevGrid


def test_frustum_points_lie_on_the_pixel_rays() -> None:
    cam = camera("CAM_FRONT", 0.3, 64, 128)
    vt = LiftSplat(8, ViewTransformConfig(depth_bins=4, depth_min=2.0, depth_max=10.0), BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8), stride=8)
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
    grid = BevGrid(-20.0, 20.0, -20.0, 20.0, 1.0)
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


def _first_bn(encoder: ImageEncoder) -> torch.nn.BatchNorm2d:
    return next(m for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_cabin_images_keep_their_own_batchnorm_statistics() -> None:
    torch.manual_seed(0)
    encoder = ImageEncoder(ImageConfig(height=64, width=128), separate_cabin_statistics=True).train()
    bn = _first_bn(encoder)
    street, cabin = torch.randn(4, 3, 64, 128), torch.randn(2, 3, 64, 64) * 3.0 + 2.0
    with torch.no_grad():
        encoder(street)
        street_mean, street_var = bn.running_mean.clone(), bn.running_var.clone()
        encoder.pooled(cabin)
    # the cabin pass updated the second set only, and the swap put every tensor back in its place
    assert torch.equal(bn.running_mean, street_mean) and torch.equal(bn.running_var, street_var)
    assert not torch.allclose(encoder.cabin_statistics.mean_0, street_mean)
    assert int(bn.num_batches_tracked) == 1 and int(encoder.cabin_statistics.count_0) == 1
    assert "cabin_statistics.var_0" in encoder.state_dict()

    # in eval mode each domain is normalised by its own statistics
    encoder.eval()
    with torch.no_grad():
        pooled = encoder.pooled(cabin)
        reference = ImageEncoder(ImageConfig(height=64, width=128)).eval()
        state = encoder.state_dict()
        layers = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        names = {id(m): n for n, m in encoder.backbone.named_modules()}
        for i, layer in enumerate(layers):  # the reference's own statistics = the cabin ones
            prefix = f"backbone.{names[id(layer)]}"
            state[f"{prefix}.running_mean"] = state.pop(f"cabin_statistics.mean_{i}")
            state[f"{prefix}.running_var"] = state.pop(f"cabin_statistics.var_{i}")
            state[f"{prefix}.num_batches_tracked"] = state.pop(f"cabin_statistics.count_{i}")
        reference.load_state_dict(state)
        torch.testing.assert_close(pooled, reference.pooled(cabin), rtol=0, atol=0)


def test_single_domain_encoders_have_one_set_of_statistics() -> None:
    encoder = ImageEncoder(ImageConfig(height=64, width=128))
    assert encoder.cabin_statistics is None
    assert not any(k.startswith("cabin_statistics") for k in encoder.state_dict())
