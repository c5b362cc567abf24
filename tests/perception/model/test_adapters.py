"""Task-specific residual adapters on the shared image features (``model.sharing.image_adapters``)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from model_frames import frames_batch, make_frame, small_config

from perception.config import SharingConfig
from perception.model import FusionModel
from perception.model.adapters import ImageAdapters


def _models() -> tuple[FusionModel, FusionModel]:
    """(hard-shared model, the same weights with image adapters), both in eval mode."""
    config = small_config().model
    torch.manual_seed(0)
    hard = FusionModel(config).eval()
    adapted = FusionModel(dataclasses.replace(config, sharing=SharingConfig(image_adapters=True))).eval()
    missing = adapted.load_state_dict(hard.state_dict(), strict=False).missing_keys
    assert sorted(missing) == [f"image_adapters.adapters.{c}.{part}.weight"
                               for c in ("depth", "view_transform") for part in ("down", "up")]
    return hard, adapted


def test_adapters_are_non_linear_residuals_per_consumer_and_keep_a_missing_camera_zero() -> None:
    import torch.nn.functional as F

    module = ImageAdapters(4, hidden=3)
    x = torch.randn(2, 3, 4, 5, 6)
    x[1, 2] = 0  # a missing camera
    assert all(torch.equal(v, x) for v in module(x).values())  # W_up starts at zero: the identity
    depth = module.adapters["depth"]
    with torch.no_grad():
        depth.up.weight.normal_()
    out = module(x)
    flat = x.flatten(0, 1)
    by_hand = flat + F.conv2d(F.relu(F.conv2d(flat, depth.down.weight, padding=1)), depth.up.weight)
    torch.testing.assert_close(out["depth"], by_hand.view_as(x), rtol=1e-5, atol=1e-6)
    assert torch.equal(out["view_transform"], x)
    assert not out["depth"][1, 2].any()
    # not linear (a linear x + W x would fold into the consumer's first layer and add no capacity)
    odd = (depth(flat) - flat) + (depth(-flat) + flat)
    assert odd.abs().max() > 1e-3
    with pytest.raises(ValueError, match="unknown image-feature consumers"):
        ImageAdapters(4, ("driver",))


def test_a_model_with_fresh_adapters_equals_the_hard_shared_model() -> None:
    hard, adapted = _models()
    batch = frames_batch([make_frame(0), make_frame(1)], hard.config)
    with torch.inference_mode():
        ref, got = hard(batch), adapted(batch)
    torch.testing.assert_close(got["depth"], ref["depth"], rtol=0, atol=0)
    torch.testing.assert_close(got["segmentation"], ref["segmentation"], rtol=0, atol=0)
    torch.testing.assert_close(got["detection"]["heatmap"], ref["detection"]["heatmap"], rtol=0, atol=0)


def test_the_depth_adapter_is_the_depth_task_s_and_the_view_adapter_is_shared() -> None:
    """Only the depth loss reaches the depth head's adapter; the BEV losses reach the view
    transform's; the strategy sees the first as depth's own and the second as shared."""
    _, model = _models()
    model.train()
    head = model.heads["depth"]
    with torch.no_grad():  # the zero-initialised convolutions away from zero: gradients flow everywhere
        for conv in (*(a.up for a in model.image_adapters.adapters.values()), head.net[-1], head.refine[-1]):
            conv.weight.normal_(std=0.1)
    batch = frames_batch([make_frame(0), make_frame(1)], model.config)
    adapters = model.image_adapters.adapters
    for task, reaches_depth_adapter in (("segmentation", False), ("depth", True)):
        model.zero_grad(set_to_none=True)
        out = model(batch)
        model.losses(out, batch)[task].per_sample.mean().backward()
        depth_grad = adapters["depth"].up.weight.grad
        assert (depth_grad is not None and bool(depth_grad.abs().sum() > 0)) == reaches_depth_adapter, task
        assert adapters["view_transform"].up.weight.grad.abs().sum() > 0, task  # depth supervises the bins too
    owned = {id(p) for p in model.task_parameters()["depth"]}
    shared = {id(p) for p in model.shared_parameters()}
    for p in adapters["depth"].parameters():
        assert id(p) in owned and id(p) not in shared
    assert all(id(p) in shared for p in adapters["view_transform"].parameters())
    everything = {id(p) for p in model.parameters()}
    assert shared | {id(p) for ps in model.task_parameters().values() for p in ps} == everything


def test_without_the_camera_branch_or_the_depth_head_no_adapter_is_built() -> None:
    config = small_config().model
    on = SharingConfig(image_adapters=True)
    heads = dataclasses.replace(config.heads, depth=dataclasses.replace(config.heads.depth, enabled=False))
    lidar_only = FusionModel(dataclasses.replace(config, sharing=on, use_camera=False, heads=heads))
    assert lidar_only.image_adapters is None
    no_depth = FusionModel(dataclasses.replace(config, sharing=on, heads=heads))
    assert list(no_depth.image_adapters.adapters) == ["view_transform"]


def test_a_checkpoint_whose_sharing_section_predates_the_adapters_loads(tmp_path) -> None:
    """A stored ``model.sharing`` without ``image_adapters`` (written before the key existed) is read
    with the key's default (off), which is how it was trained: it loads, with the same outputs."""
    from perception.checkpoint import save_checkpoint
    from perception.config import config_to_dict
    from perception.model import load_model

    hard, _ = _models()
    stored = config_to_dict(small_config())
    del stored["model"]["sharing"]["image_adapters"]
    path = save_checkpoint({"config": stored, "model": hard.state_dict(), "step": 1}, tmp_path / "old.pt")
    model, config = load_model(path)
    assert not config.model.sharing.image_adapters and model.image_adapters is None
    batch = frames_batch([make_frame(0)], hard.config)
    with torch.inference_mode():
        torch.testing.assert_close(model(batch)["depth"], hard(batch)["depth"], rtol=0, atol=0)
