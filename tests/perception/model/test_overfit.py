"""The tiny model (test-sized) overfits two samples: the detection loss more than halves."""
from __future__ import annotations

import pytest
import torch
from model_frames import frames_batch, make_frame, small_config

from perception.model import FusionModel


@pytest.mark.slow
def test_tiny_model_overfits_two_samples() -> None:
    torch.manual_seed(0)
    config = small_config()
    model = FusionModel(config.model)
    batch = frames_batch([make_frame(0), make_frame(1)], config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    history = []
    for _ in range(30):
        losses = model.losses(model(batch), batch)
        total = sum(loss.reduce() for loss in losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append({k: float(v.reduce().detach()) for k, v in losses.items()})
    first, last = history[0], history[-1]
    assert last["detection"] < 0.5 * first["detection"], (first, last)
    for task in ("segmentation", "depth", "driver"):
        assert last[task] < first[task], (task, first, last)
