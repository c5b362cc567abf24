"""Checkpoints of the small config for the evaluation tests; the config and simulator settings are
:mod:`small_setup`'s (re-exported here for the tests that import them from this module)."""
from __future__ import annotations

from pathlib import Path

import torch
from small_setup import REPO, SIM, tiny_config  # noqa: F401 - re-exported

from perception.checkpoint import save_checkpoint
from perception.config import Config, config_to_dict, save_config
from perception.model import FusionModel


def write_checkpoint(config: Config, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A randomly initialised model of ``config`` saved as (checkpoint, config YAML)."""
    torch.manual_seed(seed)
    model = FusionModel(config.model)
    checkpoint = save_checkpoint({"config": config_to_dict(config), "model": model.state_dict()}, folder / "ckpt.pt")
    return checkpoint, save_config(config, folder / "config.yaml")
