"""FusionModel: output shapes, gradients, switched-off heads, single-modality inference, presence."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from model_frames import frames_batch, make_frame

from perception.config import Config
from perception.model import FusionModel
from sensors.classes import DETECTION_CLASSES, GAZE_ZONES, MAP_CLASSES


def _model(config: Config, **heads_enabled: bool) -> FusionModel:
    torch.manual_seed(0)
    h = config.model.heads
    heads = dataclasses.replace(
        h, **{name: dataclasses.replace(getattr(h, name), enabled=on) for name, on in heads_enabled.items()}
    )
    return FusionModel(dataclasses.replace(config.model, heads=heads))


@pytest.fixture(scope="module")
def model_and_batch():
    from model_frames import small_config

    config = small_config()
    return config, _model(config), frames_batch([make_frame(0), make_frame(1)], config.model)


def test_output_shapes(model_and_batch) -> None:
    config, model, batch = model_and_batch
    m = config.model
    model.eval()
    with torch.no_grad():
        out = model(batch)
    nx, ny = m.bev.grid.shape
    assert out["detection"]["heatmap"].shape == (2, len(DETECTION_CLASSES), nx, ny)
    assert out["detection"]["regression"].shape == (2, 10, nx, ny)
    assert out["segmentation"].shape == (2, len(MAP_CLASSES), *m.heads.segmentation.grid.shape)
    assert out["depth"].shape == (2, 2, m.image.height, m.image.width)
    assert torch.all(out["depth"] > 0)
    assert out["depth_logits"].shape[:3] == (2, 2, m.view_transform.depth_bins)
    assert out["driver"]["eye"].shape == (2, 2) and out["driver"]["gaze"].shape == (2, len(GAZE_ZONES))
    assert out["driver"]["pose"].shape == (2, 3) and out["driver"]["phone"].shape == (2,)
    preds = model.decode(out)
    assert len(preds) == 2 and preds[0].bev_map.shape == (len(MAP_CLASSES), *m.heads.segmentation.grid.shape)
    assert set(preds[0].depth) == set(m.cameras) and preds[0].gaze.sum() == pytest.approx(1.0, abs=1e-5)


def test_backward_reaches_shared_and_task_parameters(model_and_batch) -> None:
    _, model, batch = model_and_batch
    model.train()
    model.zero_grad()
    losses = model.losses(model(batch), batch)
    assert set(losses) == {"detection", "segmentation", "depth", "driver"}
    for name, loss in losses.items():
        assert loss.per_sample.shape == (2,) and loss.present.all(), name
        assert torch.isfinite(loss.per_sample).all(), name
    sum(loss.reduce() for loss in losses.values()).backward()
    shared = model.shared_parameters()
    assert all(p.grad is not None for p in shared)
    # timm zero-initialises the last BN of each residual branch, so inside the backbone only
    # the stem and those BN scales get gradient at step 0; everything after it must
    backbone = {id(p) for p in model.image_encoder.backbone.parameters()}
    rest = [p for p in shared if id(p) not in backbone]
    assert all(p.grad.abs().sum() > 0 for p in rest)
    assert next(model.image_encoder.backbone.parameters()).grad.abs().sum() > 0
    for name, params in model.task_parameters().items():
        assert all(p.grad is not None for p in params), name
    ids = {id(p) for p in shared} | {id(p) for ps in model.task_parameters().values() for p in ps}
    assert ids == {id(p) for p in model.parameters()}  # every parameter is shared or of one task


def test_each_task_gradient_reaches_the_shared_backbone(model_and_batch) -> None:
    _, model, batch = model_and_batch
    model.train()
    stem = next(model.image_encoder.backbone.parameters())
    losses = model.losses(model(batch), batch)
    for name in ("detection", "segmentation", "depth", "driver"):
        (grad,) = torch.autograd.grad(losses[name].reduce(), [stem], retain_graph=True)
        assert grad.abs().sum() > 0, name


def test_switched_off_head_is_absent(config) -> None:
    model = _model(config, detection=False, driver=False)
    assert "detection" not in model.heads and "driver" not in model.heads
    assert model.tasks == ("segmentation", "depth")
    batch = frames_batch([make_frame(0)], config.model)
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert "detection" not in out and "driver" not in out
    assert set(model.losses(out, batch)) == {"segmentation", "depth"}


def test_driver_only_model_builds_no_bev(config) -> None:
    model = _model(config, detection=False, segmentation=False, depth=False)
    assert model.fuser is None and model.bev_backbone is None
    assert set(model.task_parameters()) == {"driver"}


@pytest.mark.parametrize("missing", ["cameras", "lidar"])
def test_single_modality_inference(model_and_batch, missing: str) -> None:
    config, model, _ = model_and_batch
    frame = make_frame(5, cameras=missing != "cameras", lidar=missing != "lidar")
    batch = frames_batch([frame], config.model)
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert bool(out["camera_present"][0]) == (missing != "cameras")
    assert bool(out["lidar_present"][0]) == (missing != "lidar")
    assert torch.isfinite(out["detection"]["heatmap"]).all()
    assert torch.isfinite(out["segmentation"]).all()
    losses = model.losses(out, batch)
    assert bool(losses["detection"].present[0])  # still trainable from the other modality
    # depth needs camera input and a target; here the target comes from the LiDAR points
    assert not bool(losses["depth"].present[0])


def test_partial_labels_mask_tasks(model_and_batch) -> None:
    config, model, _ = model_and_batch
    street = make_frame(6, cabin=False, driver_labels=False)
    cabin = make_frame(7, cameras=False, lidar=False, street_labels=False)
    batch = frames_batch([street, cabin], config.model)
    model.train()
    losses = model.losses(model(batch), batch)
    assert losses["detection"].present.tolist() == [True, False]
    assert losses["segmentation"].present.tolist() == [True, False]
    assert losses["depth"].present.tolist() == [True, False]
    assert losses["driver"].present.tolist() == [False, True]


def test_modality_dropout_only_in_training(config) -> None:
    cfg = dataclasses.replace(config.model, modality_dropout=0.45)
    model = FusionModel(cfg)
    batch = frames_batch([make_frame(i) for i in range(8)], cfg)
    torch.manual_seed(1)
    model.eval()
    flags = model._modality_flags(batch)
    assert flags[0].all() and flags[1].all()
    model.train()
    dropped = [model._modality_flags(batch) for _ in range(5)]
    cams = torch.stack([d[0] for d in dropped])
    lids = torch.stack([d[1] for d in dropped])
    assert not cams.all() and not lids.all()  # some samples lost a modality
    assert (cams | lids).all()  # never both
    model.eval()
    assert all(torch.equal(a, b) for a, b in zip(model._modality_flags(batch), flags))


def test_bev_pool_ranks_are_cached_for_a_fixed_rig(model_and_batch) -> None:
    config, model, batch = model_and_batch
    model.eval()
    cache = model.view_transform.ranks_cache
    with torch.no_grad():
        model(batch)
        misses = cache.misses
        model(frames_batch([make_frame(9), make_frame(10)], config.model))
    assert cache.misses == misses


def test_cabin_statistics_only_when_the_encoder_serves_both_domains(config) -> None:
    assert _model(config).image_encoder.cabin_statistics is not None
    assert _model(config, driver=False).image_encoder.cabin_statistics is None
    driver_only = dataclasses.replace(config.model, use_camera=False, use_lidar=False)
    heads = dataclasses.replace(
        driver_only.heads, **{t: dataclasses.replace(getattr(driver_only.heads, t), enabled=False)
                              for t in ("detection", "segmentation", "depth")}
    )
    assert FusionModel(dataclasses.replace(driver_only, heads=heads)).image_encoder.cabin_statistics is None


def test_cabin_only_forward_equals_the_full_forward(model_and_batch) -> None:
    """The cabin path (``tasks=("driver",)`` on cabin images alone) runs none of the street parts
    and gives the driver outputs of the full forward pass of the same frames."""
    from perception.data import cabin_inputs

    _, model, batch = model_and_batch
    model.eval()
    called: list[str] = []
    hooks = [getattr(model, name).register_forward_hook(lambda *_, n=name: called.append(n))
             for name in ("view_transform", "lidar_encoder", "fuser", "bev_backbone")]
    try:
        with torch.no_grad():
            full = model(batch)
            called.clear()
            cabin = model(cabin_inputs(batch.cabin), tasks=("driver",))
    finally:
        for hook in hooks:
            hook.remove()
    assert called == [] and set(cabin) == {"camera_present", "lidar_present", "driver"}
    for key, value in full["driver"].items():
        torch.testing.assert_close(cabin["driver"][key], value, rtol=0, atol=0)
    (prediction, _) = model.decode(cabin)
    assert prediction.boxes is None and prediction.depth is None and 0 <= prediction.eye_closed <= 1


def test_depth_only_forward_lifts_without_splatting(model_and_batch, monkeypatch) -> None:
    """A depth-only call (``tasks=("depth",)``: the single-depth model, the depth stage of the
    staged recipe) runs the lift's depth logits but no BEV pooling, LiDAR or BEV parts, and gives
    the depth outputs, and the depth loss, of the full forward pass."""
    import kernels

    _, model, batch = model_and_batch
    model.eval()
    pooled: list[int] = []
    original = kernels.bev_pool
    monkeypatch.setattr(kernels, "bev_pool", lambda *a, **k: pooled.append(1) or original(*a, **k))
    called: list[str] = []
    hooks = [getattr(model, name).register_forward_hook(lambda *_, n=name: called.append(n))
             for name in ("lidar_encoder", "fuser", "bev_backbone")]
    try:
        with torch.no_grad():
            full = model(batch)
            assert pooled and called
            pooled.clear(), called.clear()
            depth = model(batch, tasks=("depth",))
    finally:
        for hook in hooks:
            hook.remove()
    assert pooled == [] and called == []
    assert set(depth) == {"camera_present", "lidar_present", "depth", "depth_logits"}
    for key in ("depth", "depth_logits"):
        torch.testing.assert_close(depth[key], full[key], rtol=0, atol=0)
    loss_full = model.heads["depth"].loss(full, batch).per_sample
    torch.testing.assert_close(model.heads["depth"].loss(depth, batch).per_sample, loss_full, rtol=0, atol=0)


def test_unbuilt_task_is_refused(config) -> None:
    model = _model(config, driver=False)
    with pytest.raises(ValueError, match="no driver head"):
        model(frames_batch([make_frame(0)], config.model), tasks=("driver",))


def test_inputs_need_no_targets(config, monkeypatch) -> None:
    """Inference inputs project no LiDAR into the cameras (that is a depth target's job)."""
    import kernels
    from perception.data import frame_to_inputs, frame_to_sample

    calls = []
    original = kernels.points_to_depth
    monkeypatch.setattr(kernels, "points_to_depth", lambda *a, **k: calls.append(1) or original(*a, **k))
    frame = make_frame(0)
    inputs = frame_to_inputs(frame, config.model)
    assert calls == [] and not hasattr(inputs, "depth")
    sample = frame_to_sample(frame, config.model)
    assert calls and torch.equal(sample.images, inputs.images) and torch.equal(sample.intrinsics, inputs.intrinsics)
