"""Exact resume: 10 steps in one go equal 5 steps, a stop, a resume and 5 more, bit for bit."""
from __future__ import annotations

import pytest
import torch
from train_toy import make_trainer, toy_config


@pytest.mark.parametrize(
    ("strategy", "options"),
    [("equal", {}), ("uncertainty", {}), ("famo", {}), ("dwa", {"period_steps": 2})],
)
def test_resume_is_bit_exact(tmp_path, strategy, options):
    config = toy_config(steps=10, checkpoint_every=5, strategy=strategy, strategy_options=options)
    straight = make_trainer(tmp_path / "straight", config)
    straight.fit()

    first = make_trainer(tmp_path / "cut", config)
    first.fit(stop_after=5)
    assert first.step == 5 and first.batch_in_epoch == 2  # stopped mid-epoch (3 batches per epoch)
    resumed = make_trainer(tmp_path / "cut", config)
    # A different model init would be overwritten by the checkpoint: perturb it to prove that.
    with torch.no_grad():
        for p in resumed.model.parameters():
            p.add_(1.0)
    resumed.resume()
    resumed.fit()

    assert resumed.step == straight.step == 10
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    for key, value in straight.strategy.state_dict().items():
        assert str(value) == str(resumed.strategy.state_dict()[key]), key
    assert straight.scheduler.state_dict()["last_epoch"] == resumed.scheduler.state_dict()["last_epoch"]
    # The resumed run's CSV holds every step once, in order.
    steps = [int(line.split(",")[0]) for line in (tmp_path / "cut" / "train_log.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 11))


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    from perception.checkpoint import CheckpointError

    trainer = make_trainer(tmp_path, toy_config())
    with pytest.raises(CheckpointError, match="does not exist"):
        trainer.resume()


def test_resume_rejects_other_global_batch(tmp_path):
    from perception.checkpoint import CheckpointError

    make_trainer(tmp_path, toy_config(steps=2)).fit()
    other = make_trainer(tmp_path, toy_config(steps=2, batch_size=2))
    with pytest.raises(CheckpointError, match="global batch 4, this run 2"):
        other.resume()
