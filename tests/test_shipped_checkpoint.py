"""The checkpoint shipped with the package loads into the current model and matches configs/tiny.yaml."""
from pathlib import Path

import torch

from perception.config import config_to_dict, load_config
from perception.demo import SHIPPED_CHECKPOINT
from perception.model import load_model

REPO = Path(__file__).resolve().parents[1]


def test_shipped_checkpoint_loads_weights_only_and_matches_tiny_config():
    state = torch.load(SHIPPED_CHECKPOINT, weights_only=True)
    assert "optimizer" not in state, "ship the exported inference checkpoint, not a training one"
    assert SHIPPED_CHECKPOINT.stat().st_size < 25 * 2**20
    model, config = load_model(SHIPPED_CHECKPOINT)
    assert config_to_dict(config)["model"] == config_to_dict(load_config(REPO / "configs" / "tiny.yaml"))["model"]
    assert set(model.tasks) == {"detection", "segmentation", "depth", "driver"}
    assert state["provenance"]["metrics"]["nuscenes_detection"]["mean_ap"] > 0.3
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_shipped_checkpoint_outputs_are_pinned_bit_for_bit():
    """Raw head outputs and decoded results of the shipped checkpoint on a stored simulated frame
    equal the values pinned in tests/pins/shipped_outputs.npz, bit for bit (CPU, one thread).

    A refactoring must leave them unchanged; only an intended change of the model's numbers may
    rewrite the pins (``python tests/pins/shipped.py``)."""
    import numpy as np
    from pins.shipped import OUTPUTS, compute

    got = compute()
    want = np.load(OUTPUTS)
    assert sorted(got) == sorted(want.files)
    for key in want.files:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
