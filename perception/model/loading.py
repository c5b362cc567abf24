"""A :class:`FusionModel` from a checkpoint file: what evaluation, replay, the ROS node and export
load (importing no evaluation, plotting or export code)."""
from __future__ import annotations

from pathlib import Path

import torch

from perception.checkpoint import CheckpointError, load_checkpoint
from perception.config import Config, config_from_dict, config_to_dict, load_config
from perception.model.fusion_model import FusionModel


def load_model(checkpoint: str | Path, config_path: str | Path | None = None,
               device: torch.device = torch.device("cpu")) -> tuple[FusionModel, Config]:
    """A :class:`FusionModel` with the weights of ``checkpoint``, in eval mode on ``device``.

    The configuration is ``config_path`` (whose model section must equal the checkpoint's) or,
    without it, the one stored in the checkpoint.

    Raises:
        ValueError: unreadable checkpoint or config, or a mismatch (one line naming file and key).
    """
    try:
        if config_path is not None:
            config = load_config(config_path)
        else:
            config = config_from_dict(load_checkpoint(checkpoint).get("config", {}), f"{checkpoint} (stored config)")
        model = FusionModel(config.model)
        load_checkpoint(checkpoint, model, config_to_dict(config))
    except CheckpointError as error:
        raise ValueError(str(error)) from None
    return model.to(device).eval(), config
