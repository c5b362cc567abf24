"""A small model config, sensor-failure scenarios, BatchNorm calibration and the output comparison
of the export tests."""
from __future__ import annotations

import dataclasses

import torch

from perception.data import collate_frames, frame_to_sample
from perception.model import FusionModel
from perception.model.fusion_model import LOSS_ONLY_OUTPUTS
from sensors.frame import Frame

#: Absolute tolerance on every raw output (1e-4, docs/deployment.md).
ATOL = 1e-4


def assert_outputs_equal(ref: dict, got: dict) -> None:
    """Every raw head output within ATOL; depth (metres, up to 60) compared as log depth (the head's
    regression target), where 1e-4 absolute is 1e-4 relative in metres."""
    assert set(got) == set(ref) - set(LOSS_ONLY_OUTPUTS)
    for key in ("camera_present", "lidar_present"):
        assert torch.equal(ref[key], got[key]), key
    for key in ("detection", "driver"):
        for sub in ref.get(key, {}):
            torch.testing.assert_close(got[key][sub], ref[key][sub], atol=ATOL, rtol=0, msg=f"{key}.{sub}")
    if "segmentation" in ref:
        torch.testing.assert_close(got["segmentation"], ref["segmentation"], atol=ATOL, rtol=0)
    if "depth" in ref:
        seen = ref["depth"] > 0
        assert torch.equal(seen, got["depth"] > 0)
        torch.testing.assert_close(got["depth"][seen].log(), ref["depth"][seen].log(), atol=ATOL, rtol=0)


#: The sensor scenarios of :func:`scenario`.
SCENARIOS = ("all", "missing_camera", "lidar_only", "camera_only")


def scenario(frame: Frame, name: str) -> Frame:
    """``frame`` with all sensors (``all``), the back camera missing (``missing_camera``), no street
    camera (``lidar_only``) or no LiDAR (``camera_only``)."""
    if name == "all":
        return frame
    if name == "missing_camera":
        return dataclasses.replace(frame, cameras={k: v for k, v in frame.cameras.items() if k != "CAM_BACK"})
    if name == "lidar_only":
        return dataclasses.replace(frame, cameras={})
    if name == "camera_only":
        return dataclasses.replace(frame, lidar=None)
    raise ValueError(f"unknown scenario {name!r}")


def calibrate_batch_norm(model: FusionModel, frames: list) -> None:
    """Set every BatchNorm's running statistics to those of one pass over ``frames`` (a random model
    with the initial statistics 0 / 1 fades every input to a near constant; after this its outputs
    depend on the input at unit scale, so that equality means something)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in layers:
        bn.momentum = 1.0
    config = model.config
    # no modality dropout: statistics of a batch whose LiDAR or cameras were dropped at random would
    # leave channels of near-zero variance and outputs of 1e5 (depending on the random state)
    model.config = dataclasses.replace(config, modality_dropout=0.0)
    model.train()
    with torch.no_grad():
        model(collate_frames([frame_to_sample(f, model.config) for f in frames]))
    model.eval()
    model.config = config
