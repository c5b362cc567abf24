"""The depth head's own depth distribution (``model.sharing.depth_distribution: own``): what reaches
what, and the loss it trains with."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from model_frames import frames_batch, make_frame, small_config

from perception.config import SharingConfig
from perception.model import FusionModel
from perception.model.heads.depth import OWN_LOGITS


def _model(lift_supervision: bool = True, depth_distribution: str = "own") -> FusionModel:
    config = small_config().model
    config = dataclasses.replace(config, sharing=SharingConfig(depth_distribution=depth_distribution,
                                                               lift_supervision=lift_supervision))
    torch.manual_seed(0)
    model = FusionModel(config)
    head = model.heads["depth"]
    with torch.no_grad():  # the zero-initialised residual convs away from zero: gradients flow everywhere
        for conv in (head.net[-1], head.refine[-1]):
            conv.weight.normal_(std=0.1)
    return model


def test_the_own_distribution_is_the_depth_task_s_and_decouples_it_from_the_lift_step() -> None:
    model = _model().eval()
    batch = frames_batch([make_frame(0), make_frame(1)], model.config)
    with torch.inference_mode():
        out = model(batch)
        features = model.forward_features(batch)
        reference = model.heads["depth"](features)["depth"]
        features.depth_logits = torch.randn_like(features.depth_logits)  # another lift distribution
        moved = model.heads["depth"](features)["depth"]
    assert out[OWN_LOGITS].shape == out["depth_logits"].shape
    assert not torch.equal(out[OWN_LOGITS], out["depth_logits"])
    torch.testing.assert_close(out["depth"], reference, rtol=0, atol=0)
    torch.testing.assert_close(moved, reference, rtol=0, atol=0)  # the depth estimate ignores the lift step's

    shared = _model(depth_distribution="shared").eval()
    with torch.inference_mode():
        features = shared.forward_features(batch)
        reference = shared.heads["depth"](features)["depth"]
        features.depth_logits = torch.randn_like(features.depth_logits)
        assert (shared.heads["depth"](features)["depth"] - reference).abs().max() > 1e-3
        assert OWN_LOGITS not in shared(batch)

    owned = {id(p) for p in model.task_parameters()["depth"]}
    shared_ids = {id(p) for p in model.shared_parameters()}
    for p in model.heads["depth"].distribution.parameters():
        assert id(p) in owned and id(p) not in shared_ids


def test_without_lift_supervision_the_depth_loss_does_not_reach_the_lift_step_nor_the_bev_losses_the_head() -> None:
    batch = frames_batch([make_frame(0), make_frame(1)], small_config().model)
    for lift_supervision in (False, True):
        model = _model(lift_supervision).train()
        lift = model.view_transform.net[-1].weight
        for task in ("depth", "segmentation"):
            model.zero_grad(set_to_none=True)
            out = model(batch)
            model.losses(out, batch)[task].per_sample.mean().backward()
            own = model.heads["depth"].distribution[-1].weight.grad
            grad = lift.grad if lift.grad is not None else torch.zeros_like(lift)
            lift_grad = grad[: model.view_transform.depth_bins]  # the depth-bin rows of the lift conv
            if task == "depth":
                assert own is not None and own.abs().sum() > 0
                assert bool(lift_grad.abs().sum() > 0) == lift_supervision
            else:
                assert own is None or not own.any()
                assert lift_grad.abs().sum() > 0


def test_the_loss_is_log_l1_plus_the_bin_cross_entropies_of_both_distributions() -> None:
    model = _model().eval()
    batch = frames_batch([make_frame(0), make_frame(1)], model.config)
    cfg = model.config.heads.depth
    free_lift = _model(lift_supervision=False).eval()
    free_lift.load_state_dict(model.state_dict())
    with torch.no_grad():
        out = model(batch)
        got = model.losses(out, batch)["depth"].per_sample
        free_loss = free_lift.losses(free_lift(batch), batch)["depth"].per_sample
    assert (got - free_loss).abs().min() > 1e-3
    # independently: per sample, the mean |log d - log t| over valid pixels, and the mean CE over
    # feature pixels whose nearest (smallest) target depth in the stride x stride window lies in a bin
    stride = model.heads["depth"].stride
    vt = model.config.view_transform
    step = (vt.depth_max - vt.depth_min) / vt.depth_bins
    for i in range(2):
        target = batch.depth[i] * batch.camera_valid[i][:, None, None]
        valid = (target > 0) & (target < cfg.max_depth)
        l1 = (out["depth"][i][valid].log() - target[valid].log()).abs().mean()
        ce = {}
        for key in (OWN_LOGITS, "depth_logits"):
            logits = out[key][i]  # (N, D, h, w)
            n, d, h, w = logits.shape
            terms = []
            for c in range(n):
                for y in range(h):
                    for x in range(w):
                        window = target[c, y * stride:(y + 1) * stride, x * stride:(x + 1) * stride]
                        positive = window[window > 0]
                        if positive.numel() == 0:
                            continue
                        nearest = float(positive.min())
                        if not vt.depth_min <= nearest < vt.depth_max:
                            continue
                        label = int((nearest - vt.depth_min) // step)
                        terms.append(F.cross_entropy(logits[c, :, y, x][None], torch.tensor([label])))
            ce[key] = torch.stack(terms).mean()
        expected = l1 + cfg.bin_weight * (ce[OWN_LOGITS] + ce["depth_logits"])
        torch.testing.assert_close(got[i], expected, rtol=1e-4, atol=1e-5)
        free = l1 + cfg.bin_weight * ce[OWN_LOGITS]
        torch.testing.assert_close(free_loss[i], free, rtol=1e-4, atol=1e-5)


def test_fine_tuning_a_shared_distribution_checkpoint_starts_the_own_one_as_its_copy(tmp_path) -> None:
    """``--init`` from a model trained with the shared distribution: the own distribution starts as
    a copy of the view transform's depth branch, so the depth estimate is unchanged at step 0."""
    from perception.checkpoint import load_initial_weights, save_checkpoint
    from perception.config import config_to_dict

    shared = _model(depth_distribution="shared").eval()
    path = save_checkpoint({"config": config_to_dict(small_config()), "model": shared.state_dict(), "step": 0},
                           tmp_path / "shared.pt")
    torch.manual_seed(1)
    own = FusionModel(_model().config).eval()
    report = load_initial_weights(path, own)
    assert set(report.warm) == {k for k in report.fresh if k.startswith("heads.depth.distribution.")}
    assert report.warm and set(report.fresh) == set(report.warm)
    batch = frames_batch([make_frame(0), make_frame(1)], own.config)
    with torch.inference_mode():
        ref, got = shared(batch), own(batch)
    torch.testing.assert_close(got["depth"], ref["depth"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(got[OWN_LOGITS], ref["depth_logits"], rtol=1e-6, atol=1e-6)
    # an own distribution the checkpoint had is loaded as it is, not overwritten
    trained = save_checkpoint({"config": config_to_dict(small_config()), "model": own.state_dict(), "step": 0},
                              tmp_path / "own.pt")
    assert load_initial_weights(trained, FusionModel(own.config)).warm == ()
    # nor is it copied from a view transform the checkpoint did not have (a LiDAR-only model)
    lidar_only = dataclasses.replace(small_config().model, use_camera=False,
                                     heads=dataclasses.replace(small_config().model.heads,
                                                               depth=dataclasses.replace(small_config().model.heads.depth,
                                                                                         enabled=False)))
    no_lift = save_checkpoint({"config": config_to_dict(small_config()), "model": FusionModel(lidar_only).state_dict(),
                               "step": 0}, tmp_path / "lidar.pt")
    fresh_model = FusionModel(own.config)
    before = {k: v.clone() for k, v in fresh_model.heads["depth"].distribution.state_dict().items()}
    assert load_initial_weights(no_lift, fresh_model).warm == ()
    for key, value in fresh_model.heads["depth"].distribution.state_dict().items():
        assert torch.equal(value, before[key]), key
    # with image adapters the head reads another input than the view transform: no copy
    adapted = dataclasses.replace(own.config, sharing=SharingConfig(depth_distribution="own", image_adapters=True))
    assert load_initial_weights(path, FusionModel(adapted)).warm == ()
