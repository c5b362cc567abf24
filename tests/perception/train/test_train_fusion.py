"""The real fusion model in the trainer: exact resume (modality dropout RNG included), partial labels."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml
from fusion_samples import RandomSamples
from test_train_cli import TINY

from perception.config import config_from_dict
from perception.data import collate_frames
from perception.distributed import DistContext
from perception.model import FusionModel
from perception.mtl.factory import make_strategy
from perception.train import Trainer, TrainerOptions, make_train_loader


def fusion_trainer(out_dir, config):
    torch.manual_seed(0)
    model = FusionModel(config.model)
    strategy = make_strategy(config.train.strategy, model.tasks)
    loader = make_train_loader(RandomSamples(config.model), 2, DistContext(), 0, collate_fn=collate_frames)
    return Trainer(model, strategy, loader, config, out_dir, options=TrainerOptions(progress=False))


@pytest.mark.slow  # 3 + 1 + 2 real steps: 15-90 s on the shared 2-core CPU depending on load
def test_fusion_model_resume_is_bit_exact(tmp_path):
    config = config_from_dict(yaml.safe_load(TINY))
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, modality_dropout=0.3),
        train=dataclasses.replace(config.train, steps=3, checkpoint_every=1, strategy="uncertainty"),
    )
    straight = fusion_trainer(tmp_path / "straight", config)
    start = {k: v.clone() for k, v in straight.model.state_dict().items()}
    straight.fit()
    cut = fusion_trainer(tmp_path / "cut", config)
    cut.fit(stop_after=1)
    resumed = fusion_trainer(tmp_path / "cut", config)
    resumed.resume()
    resumed.fit()
    assert resumed.step == 3
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    trained = [k for k, v in start.items() if v.is_floating_point() and not torch.equal(v, straight.model.state_dict()[k])]
    for prefix in ("heads.detection", "heads.segmentation", "heads.depth", "heads.driver", "image_encoder", "lidar_encoder"):
        assert any(k.startswith(prefix) for k in trained), prefix
