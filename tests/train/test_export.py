"""Exported inference checkpoints keep the weights and config and drop the training state."""
from pathlib import Path

import torch
from torch import nn

from perception.checkpoint import export_weights, load_checkpoint, save_checkpoint


def test_export_keeps_weights_and_drops_training_state(tmp_path: Path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    full = save_checkpoint({"config": {"model": {"a": 1}}, "model": model.state_dict(), "step": 7,
                            "optimizer": optimizer.state_dict()}, tmp_path / "last.pt")
    out = export_weights(full, tmp_path / "ship.pt", provenance={"command": "perception train", "seed": 0})
    state = torch.load(out, weights_only=True)
    assert "optimizer" not in state and state["step"] == 7
    assert state["provenance"] == {"command": "perception train", "seed": 0}
    fresh = nn.Linear(3, 2)
    load_checkpoint(out, fresh)
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor)
    assert out.stat().st_size < full.stat().st_size
