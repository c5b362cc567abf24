"""Mixed precision on a CUDA GPU (skipped without one)."""
from __future__ import annotations

import pytest
import torch
from train_toy import make_trainer, toy_config

from perception.distributed import DistContext

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("amp_dtype", ["bfloat16", "float16"])
def test_amp_training_on_gpu(tmp_path, amp_dtype):
    config = toy_config(steps=30, amp=True, strategy="uncertainty", lr=0.01)
    trainer = make_trainer(tmp_path, config, ctx=DistContext(device=torch.device("cuda")), amp_dtype=amp_dtype)
    assert trainer.amp and trainer.scaler.is_enabled() == (amp_dtype == "float16")
    first = trainer.fit(stop_after=1).last_losses
    result = trainer.fit()
    assert result.skipped_steps == 0
    assert result.last_losses["a"] < first["a"]  # it learns
    state = torch.load(trainer.checkpoint_path, weights_only=True)
    assert state["step"] == 30
    assert all(v.device.type == "cpu" for v in state["model"].values())  # loads on a CPU-only machine
    assert (state["scaler"] != {}) == (amp_dtype == "float16")
