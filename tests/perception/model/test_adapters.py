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
    assert sorted(missing) == ["image_adapters.adapters.depth.weight", "image_adapters.adapters.view_transform.weight"]
    return hard, adapted


def test_adapters_are_residual_per_consumer_and_keep_a_missing_camera_zero() -> None:
    module = ImageAdapters(4)
    x = torch.randn(2, 3, 4, 5, 6)
    x[1, 2] = 0  # a missing camera
    assert all(torch.equal(v, x) for v in module(x).values())  # zero-initialised: the identity
    with torch.no_grad():
        module.adapters["depth"].weight.copy_(torch.randn(4, 4, 1, 1))
    out = module(x)
    expected = x + torch.einsum("oc,bncij->bnoij", module.adapters["depth"].weight[:, :, 0, 0], x)
    torch.testing.assert_close(out["depth"], expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(out["view_transform"], x)
    assert not out["depth"][1, 2].any()
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
        for conv in (*model.image_adapters.adapters.values(), head.net[-1], head.refine[-1]):
            conv.weight.normal_(std=0.1)
    batch = frames_batch([make_frame(0), make_frame(1)], model.config)
    adapters = model.image_adapters.adapters
    for task, reaches_depth_adapter in (("segmentation", False), ("depth", True)):
        model.zero_grad(set_to_none=True)
        out = model(batch)
        model.losses(out, batch)[task].per_sample.mean().backward()
        depth_grad = adapters["depth"].weight.grad
        assert (depth_grad is not None and bool(depth_grad.abs().sum() > 0)) == reaches_depth_adapter, task
        assert adapters["view_transform"].weight.grad.abs().sum() > 0, task  # depth supervises the bins too
    owned = {id(p) for p in model.task_parameters()["depth"]}
    shared = {id(p) for p in model.shared_parameters()}
    assert id(adapters["depth"].weight) in owned and id(adapters["depth"].weight) not in shared
    assert id(adapters["view_transform"].weight) in shared
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
