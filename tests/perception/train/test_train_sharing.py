"""Training recipes with the sharing architectures: a trainer step for each architecture with an
adaptive strategy, single-task training of a subset of the heads (TrainerOptions.tasks), and the
staged recipe of ``perception train --staged``."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml
from fusion_samples import RandomSamples
from test_train_cli import TINY, train

from perception.config import SharingConfig, config_from_dict
from perception.data import collate_frames
from perception.distributed import DistContext
from perception.model import FusionModel
from perception.mtl.factory import make_strategy
from perception.train import Trainer, TrainerOptions, make_train_loader


@pytest.fixture()
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _config(kind: str, strategy: str, steps: int = 1):
    config = config_from_dict(yaml.safe_load(TINY))
    model = dataclasses.replace(config.model, sharing=SharingConfig(kind=kind, soft_weight=0.1, balance_weight=0.1))
    return dataclasses.replace(config, model=model, train=dataclasses.replace(config.train, steps=steps, strategy=strategy))


def _trainer(out_dir, config, tasks=None):
    torch.manual_seed(0)
    model = FusionModel(config.model)
    trained = tuple(t for t in model.tasks if tasks is None or t in tasks)
    strategy = make_strategy(config.train.strategy, trained)
    loader = make_train_loader(RandomSamples(config.model), 2, DistContext(), 0, collate_fn=collate_frames)
    return Trainer(model, strategy, loader, config, out_dir, options=TrainerOptions(progress=False, tasks=tasks))


def _changed(before: dict[str, torch.Tensor], model: torch.nn.Module, prefix: str) -> bool:
    now = model.state_dict()
    return any(k.startswith(prefix) and v.is_floating_point() and not torch.equal(v, now[k]) for k, v in before.items())


FAST = [("routing", "pcgrad"), ("soft", "uncertainty")]
SLOW = [(k, s) for k in ("hard", "task_decoders", "cross_stitch", "sluice", "soft", "routing")
        for s in ("uncertainty", "pcgrad") if (k, s) not in FAST]


@pytest.mark.parametrize("kind, strategy", [*FAST, *(pytest.param(*c, marks=pytest.mark.slow) for c in SLOW)])
def test_a_train_step_runs_for_each_architecture_and_strategy(tmp_path, kind, strategy):
    trainer = _trainer(tmp_path, _config(kind, strategy))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert result.steps == 1 and result.skipped_steps == 0
    assert {"detection", "segmentation", "depth"} <= set(result.last_losses)  # driver labels: 2 of 3 samples
    for prefix in ("bev_backbone.", "heads.detection.", "heads.segmentation.", "image_encoder."):
        assert _changed(before, trainer.model, prefix), prefix


def test_soft_penalty_gradient_is_added_by_the_trainer(tmp_path):
    """Copies set apart, one step at weight 0 and at weight w on the same batch: the gradient of a
    copy differs by exactly d/dtheta_seg of w * ||theta_det - theta_seg||^2 = 2 w (theta_seg - theta_det)."""
    weight = 0.5
    grads, start = {}, {}
    for w in (0.0, weight):
        config = _config("soft", "equal")
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, sharing=SharingConfig(kind="soft", soft_weight=w)),
            train=dataclasses.replace(config.train, grad_clip=0.0))
        trainer = _trainer(tmp_path / str(w), config)
        copies = trainer.model.bev_backbone.copies
        with torch.no_grad():
            for p in copies["segmentation"].parameters():
                p.add_(0.05)
        start[w] = [(a.detach().clone(), b.detach().clone())
                    for a, b in zip(copies["detection"].parameters(), copies["segmentation"].parameters())]
        trainer.fit()
        grads[w] = [p.grad.clone() for p in copies["segmentation"].parameters()]
    for g0, gw, (det, seg) in zip(grads[0.0], grads[weight], start[weight]):
        torch.testing.assert_close(gw - g0, 2 * weight * (seg - det), rtol=1e-3, atol=1e-5)


def test_training_a_subset_of_tasks_leaves_the_others_untouched(tmp_path):
    trainer = _trainer(tmp_path, _config("hard", "equal"), tasks=("depth",))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert set(result.last_losses) == {"depth"}
    assert _changed(before, trainer.model, "heads.depth.") and _changed(before, trainer.model, "image_encoder.")
    for prefix in ("heads.detection.", "heads.segmentation.", "heads.driver.", "lidar_encoder.", "fuser.",
                   "bev_backbone."):
        assert not _changed(before, trainer.model, prefix), prefix
    with pytest.raises(ValueError, match="exactly those of the strategy"):
        config = _config("hard", "equal")
        model = FusionModel(config.model)
        loader = make_train_loader(RandomSamples(config.model), 2, DistContext(), 0, collate_fn=collate_frames)
        Trainer(model, make_strategy("equal", model.tasks), loader, config, tmp_path / "bad",
                options=TrainerOptions(progress=False, tasks=("depth",)))


@pytest.mark.slow  # simulator start-up (numba compilation) and five tiny runs: about a minute
def test_staged_recipe_is_one_resumable_command(tiny_config, tmp_path, capsys):
    out = tmp_path / "staged"
    common = ("--config", str(tiny_config), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--staged",
              "--stage-steps", "1", "--steps", "2", "--stage-order", "depth,detection")
    assert train(*common) == 0
    assert "trained 2 single-task stages and the joint run" in capsys.readouterr().out
    depth = torch.load(out / "stage1-depth" / "checkpoints" / "last.pt", weights_only=True)
    det = torch.load(out / "stage2-detection" / "checkpoints" / "last.pt", weights_only=True)
    joint = torch.load(out / "joint" / "checkpoints" / "last.pt", weights_only=True)
    assert depth["step"] == 1 and det["step"] == 1 and joint["step"] == 2
    # stage 2 started from stage 1 and did not train depth: its depth head is stage 1's
    for key, value in depth["model"].items():
        if key.startswith("heads.depth.") and value.is_floating_point():
            assert torch.equal(value, det["model"][key]), key
    logged = (out / "joint" / "train_log.csv").read_text().splitlines()[0]
    assert "loss/driver" in logged  # the joint run trains every head
    mtime = (out / "joint" / "checkpoints" / "last.pt").stat().st_mtime_ns
    assert train(*common) == 0  # everything done: nothing is trained again
    assert (out / "joint" / "checkpoints" / "last.pt").stat().st_mtime_ns == mtime
    capsys.readouterr()
    changed = [("2" if a == "1" and common[i - 1] == "--stage-steps" else a) for i, a in enumerate(common)]
    assert train(*changed) == 2  # other stage steps into the same folder: refused, not mixed
    err = capsys.readouterr().err
    assert "stage1-depth/checkpoints/last.pt: a run planned for 1 steps, this command plans 2" in err
    assert err.count("\n") == 1


def test_staged_refuses_unknown_stage_task(tiny_config, tmp_path, capsys):
    assert train("--config", str(tiny_config), "--out", str(tmp_path / "s"), "--staged", "--stage-order", "gaze") == 2
    err = capsys.readouterr().err
    assert "--stage-order" in err and "gaze" in err and err.count("\n") == 1


def test_staged_recipe_stages():
    from perception.train.staged import enabled_stage_order, staged_recipe

    config = _config("sluice", "pcgrad", steps=10)
    assert enabled_stage_order(config) == ("depth", "segmentation", "detection", "driver")
    stages = staged_recipe(config, ("depth", "detection"), 3, joint_steps=4)
    assert [(s.name, s.tasks, s.config.train.steps, s.config.train.strategy) for s in stages] == [
        ("stage1-depth", ("depth",), 3, "equal"), ("stage2-detection", ("detection",), 3, "equal"),
        ("joint", None, 4, "pcgrad")]
    assert all(s.config.model == config.model for s in stages)  # one architecture: every tensor carries over
    assert staged_recipe(config, ("driver",), 2)[-1].config.train.steps == 10
    heads = dataclasses.replace(config.model.heads, driver=dataclasses.replace(config.model.heads.driver, enabled=False))
    no_driver = dataclasses.replace(config, model=dataclasses.replace(config.model, heads=heads))
    assert enabled_stage_order(no_driver) == ("depth", "segmentation", "detection")
    with pytest.raises(ValueError, match="driver has no head in the config"):
        staged_recipe(no_driver, ("depth", "driver"), 1)
    with pytest.raises(ValueError, match="expected distinct tasks"):
        staged_recipe(config, ("depth", "depth"), 1)
    with pytest.raises(ValueError, match="must be >= 1, got 2 and 0"):
        staged_recipe(config, ("depth",), 2, joint_steps=0)
