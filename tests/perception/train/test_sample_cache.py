"""The simulated-sample cache: compact storage that gives back the very same tensors, and its key."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from fusion_samples import RandomSamples

from perception.config import Config, ModelConfig, config_from_dict
from perception.data.transforms import normalise
from perception.train.data import SimulatedSamples, pack_sample, unpack_sample
from sensors.frame import BevGrid

SMALL = {
    "model": {
        "cameras": ["CAM_FRONT", "CAM_BACK"],
        "image": {"height": 32, "width": 48, "cabin_height": 32, "cabin_width": 40},
        "heads": {"segmentation": {"grid": {"xmin": -8.0, "xmax": 8.0, "ymin": -8.0, "ymax": 8.0, "resolution": 0.5}}},
    }
}


def _config(**model_changes: object) -> Config:
    config = config_from_dict(SMALL)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **model_changes))


def _camera_sample(model: ModelConfig, seed: int, camera_valid: tuple[bool, ...], cabin_valid: bool):
    """A RandomSamples sample whose images come from uint8 pixels, like every converted frame."""
    sample = RandomSamples(model, size=1, seed=seed)[0]
    rng = np.random.default_rng(seed)
    im = model.image
    images = torch.stack([
        normalise(rng.integers(0, 256, (im.height, im.width, 3), dtype=np.uint8), im.mean, im.std) if ok
        else torch.zeros(3, im.height, im.width)
        for ok in camera_valid
    ])
    cabin = (normalise(rng.integers(0, 256, (im.cabin_height, im.cabin_width, 3), dtype=np.uint8), im.mean, im.std)
             if cabin_valid else torch.zeros(3, im.cabin_height, im.cabin_width))
    return dataclasses.replace(sample, images=images, camera_valid=torch.tensor(camera_valid), cabin=cabin,
                               cabin_valid=cabin_valid)


def _assert_same(a, b) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and torch.equal(x, y), field.name
        else:
            assert x == y, field.name


@pytest.mark.parametrize("camera_valid, cabin_valid", [((True, True), True), ((False, True), False)])
def test_pack_is_compact_and_exact(camera_valid, cabin_valid) -> None:
    model = _config().model
    sample = _camera_sample(model, 3, camera_valid, cabin_valid)
    packed = pack_sample(sample, model.image)
    assert packed["images"].dtype == torch.uint8 and packed["cabin"].dtype == torch.uint8
    assert packed["bev_map"].dtype == torch.bool
    _assert_same(unpack_sample(packed, model.image), sample)


def test_images_not_made_from_pixels_stay_float() -> None:
    model = _config().model
    sample = RandomSamples(model, size=1, seed=1)[0]  # standard-normal images: no uint8 origin
    packed = pack_sample(sample, model.image)
    assert packed["images"].dtype == torch.float32 and packed["cabin"].dtype == torch.float32
    _assert_same(unpack_sample(packed, model.image), sample)


def test_cache_key_follows_sample_settings_only(tmp_path) -> None:
    base = SimulatedSamples(_config(), tmp_path, 0, 1).cache_dir
    config = _config()
    heads = config.model.heads
    narrower = dataclasses.replace(
        heads, detection=dataclasses.replace(heads.detection, channels=8),
        driver=dataclasses.replace(heads.driver, enabled=False),
    )
    assert SimulatedSamples(_config(heads=narrower, use_lidar=False), tmp_path, 0, 1).cache_dir == base
    finer = dataclasses.replace(heads, segmentation=dataclasses.replace(
        heads.segmentation, grid=BevGrid(-8.0, 8.0, -8.0, 8.0, 0.25)))
    assert SimulatedSamples(_config(heads=finer), tmp_path, 0, 1).cache_dir != base
    smaller = dataclasses.replace(config.model.image, height=40)
    assert SimulatedSamples(_config(image=smaller), tmp_path, 0, 1).cache_dir != base
    assert SimulatedSamples(_config(), tmp_path, 1, 1).cache_dir != base  # other seeds


def test_cache_key_follows_every_simulator_setting(tmp_path) -> None:
    base = SimulatedSamples(_config(), tmp_path, 0, 1).cache_dir

    def with_sim(**sim: object) -> Config:
        config = _config()
        return dataclasses.replace(config, data=dataclasses.replace(config.data, sim=sim))

    # a default spelled out is the same simulator; a changed default (camera trigger) is not
    assert SimulatedSamples(with_sim(lidar_stamp_azimuth_deg=106.0), tmp_path, 0, 1).cache_dir == base
    assert SimulatedSamples(with_sim(lidar_stamp_azimuth_deg=0.0), tmp_path, 0, 1).cache_dir != base
