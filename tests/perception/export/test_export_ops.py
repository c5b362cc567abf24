"""The export ops against the model's kernels (Numba), and the torch graph against ``FusionModel.forward``."""
from __future__ import annotations

import pytest
import torch
from export_setup import (
    assert_outputs_equal,
    calibrate_batch_norm,
    scenario,
)
from small_setup import tiny_config

import kernels
from perception.data import collate_frames, frame_to_sample
from perception.export.graph import FusionGraph, outputs_to_forward
from perception.export.inputs import GraphInputBuilder
from perception.export.ops import bev_pool_gather, pillar_scatter_index
from perception.model import FusionModel


def _rig(b: int, n: int, d: int, h: int, w: int, grid: kernels.BevPoolGeometry) -> list[kernels.BevPoolRanks]:
    """Ranks of ``b`` random rigs (frustum points scattered over and beyond the grid)."""
    g = torch.Generator().manual_seed(1)
    return [kernels.precompute_bev_pool(torch.rand((n, d, h, w, 3), generator=g, dtype=torch.float64) * 24 - 12, grid)
            for _ in range(b)]


def test_bev_pool_gather_equals_the_numba_kernel_for_different_rigs_in_one_batch():
    grid = kernels.BevPoolGeometry(-8.0, -8.0, -4.0, 8.0, 8.0, 4.0, 1.0, 1.0)
    b, n, d, h, w, c = 3, 2, 5, 3, 4, 6
    g = torch.Generator().manual_seed(0)
    probs = torch.rand((b, n, d, h, w), generator=g).softmax(dim=2)
    context = torch.randn((b, n, h, w, c), generator=g)
    rigs = _rig(b, n, d, h, w, grid)
    offsets = [(i * n * d * h * w, i * n * h * w, i * grid.nx * grid.ny) for i in range(b)]
    depth_index = torch.cat([r.depth_index.long() + o[0] for r, o in zip(rigs, offsets)])
    feat_index = torch.cat([r.feat_index.long() + o[1] for r, o in zip(rigs, offsets)])
    bev_index = torch.cat([r.bev_index.long() + o[2] for r, o in zip(rigs, offsets)])
    out = bev_pool_gather(probs, context, depth_index, feat_index, bev_index, (grid.nx, grid.ny))
    for i, ranks in enumerate(rigs):  # the kernel takes one rig per call
        expected = kernels.bev_pool(probs[i:i + 1], context[i:i + 1], ranks, backend="numba")[0]
        torch.testing.assert_close(out[i], expected, atol=1e-6, rtol=1e-6)
    assert out.abs().sum() > 0


def test_pillar_scatter_index_equals_the_numba_kernel():
    points = [torch.rand((300, 5)) * torch.tensor([16.0, 16.0, 4.0, 255.0, 0.0]) - torch.tensor([8.0, 8.0, 2.0, 0, 0])
              for _ in range(2)]
    voxels = kernels.hard_voxelize_batch(points, (0.5, 0.5, 4.0), (-8.0, -8.0, -2.0, 8.0, 8.0, 2.0), 8, 1000)
    features = torch.randn((voxels.coords.shape[0], 4))
    out = pillar_scatter_index(features, voxels.coords.long(), 2, (32, 32))
    expected = kernels.pillar_scatter(features, voxels.coords, 2, (32, 32), backend="numba")
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    assert (out != 0).any(dim=1).sum() == voxels.coords.shape[0]


@pytest.fixture(scope="module")
def every_head(pinned_frame) -> FusionModel:
    """A random model of the small config with every head (BatchNorm calibrated on the pinned frame)."""
    torch.manual_seed(0)
    model = FusionModel(tiny_config().model)
    calibrate_batch_norm(model, [pinned_frame, scenario(pinned_frame, "missing_camera")])
    return model


@pytest.mark.parametrize("frames", [("missing_camera", "all"), ("lidar_only", "camera_only"), ("lidar_only",), ("camera_only",)])
def test_the_torch_graph_equals_fusion_model_forward_for_every_head(every_head, pinned_frame, frames):
    """The graph re-wires the model's modules around the pure-torch ops: every head's raw output must
    stay what ``FusionModel.forward`` gives (a head changed in one and not the other fails here, in
    the default run, without the slow ONNX export)."""
    batch = collate_frames([frame_to_sample(scenario(pinned_frame, f), every_head.config) for f in frames])
    graph = FusionGraph(every_head)
    with torch.inference_mode():
        ref = every_head(batch)
        got = outputs_to_forward(dict(zip(graph.output_names, graph(GraphInputBuilder(graph.spec)(batch)))))
    assert set(got) >= {"detection", "segmentation", "depth", "driver"}
    assert_outputs_equal(ref, got)


def _forward_and_graph(model: FusionModel, frame) -> tuple[dict, dict]:
    """``model``'s forward dict and its torch graph's outputs (as a forward dict) on ``frame`` with
    the back camera missing and with every sensor, after calibrating its BatchNorm on ``frame``."""
    calibrate_batch_norm(model, [frame])
    batch = collate_frames([frame_to_sample(scenario(frame, f), model.config) for f in ("missing_camera", "all")])
    graph = FusionGraph(model)
    with torch.inference_mode():
        ref = model(batch)
        got = outputs_to_forward(dict(zip(graph.output_names, graph(GraphInputBuilder(graph.spec)(batch)))))
    return ref, got


def test_the_torch_graph_equals_forward_with_image_adapters(pinned_frame):
    """``model.sharing.image_adapters``: the graph routes the image features through the same adapters."""
    import dataclasses

    from perception.config import SharingConfig

    config = tiny_config().model
    torch.manual_seed(0)
    model = FusionModel(dataclasses.replace(config, sharing=SharingConfig(image_adapters=True)))
    with torch.no_grad():
        for adapter in model.image_adapters.adapters.values():
            adapter.up.weight.normal_(std=0.3)
    ref, got = _forward_and_graph(model, pinned_frame)
    batch = collate_frames([frame_to_sample(scenario(pinned_frame, f), model.config) for f in ("missing_camera", "all")])
    with torch.inference_mode():
        hard = model.image_adapters
        model.image_adapters = None  # the adapters change the outputs: the test would see them missing
        without = model(batch)
        model.image_adapters = hard
    assert_outputs_equal(ref, got)
    assert not torch.allclose(without["depth"], ref["depth"])


def test_the_torch_graph_equals_forward_with_the_depth_head_s_own_distribution(pinned_frame):
    """``model.sharing.depth_distribution: own``: the graph's depth is the head's own estimate."""
    import dataclasses

    from perception.config import SharingConfig

    config = tiny_config().model
    torch.manual_seed(0)
    model = FusionModel(dataclasses.replace(config, sharing=SharingConfig(depth_distribution="own")))
    ref, got = _forward_and_graph(model, pinned_frame)
    bins = model.heads["depth"].bins
    own_expected = bins.expected(ref["depth_head_logits"].flatten(0, 1))
    lift_expected = bins.expected(ref["depth_logits"].flatten(0, 1))
    assert_outputs_equal(ref, got)
    assert not torch.allclose(own_expected, lift_expected)  # the two distributions differ: the test can tell
