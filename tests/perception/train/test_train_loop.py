"""The loop: non-finite steps skipped and counted, divergence stop, schedules, CSV columns."""
from __future__ import annotations

import csv
import math

import pytest
import torch
from train_toy import ToyDataset, make_trainer, toy_config

from perception.train import TrainingDiverged
from perception.train.logs import csv_columns
from perception.train.schedule import build_scheduler, warmup_cosine_factor


def test_nan_loss_step_is_skipped_and_counted(tmp_path):
    # No shuffle: step 1 is samples 0-3, sample 1 has a NaN target for the present task a.
    trainer = make_trainer(tmp_path, toy_config(steps=3, lr=0.01), dataset=ToyDataset(nan_at=(1,)), shuffle=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit(stop_after=1)
    assert trainer.bad_total == 1 and trainer.bad_consecutive == 1
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(before[key], value), key  # the bad step changed nothing
    result = trainer.fit()
    assert result.skipped_steps == 1 and trainer.bad_consecutive == 0
    assert not torch.equal(before["trunk.0.weight"], trainer.model.state_dict()["trunk.0.weight"])
    rows = list(csv.DictReader((tmp_path / "train_log.csv").open()))
    assert [r["skipped"] for r in rows] == ["1", "1", "1"]
    assert rows[0]["loss"] == "" and rows[1]["loss"] != ""


def test_consecutive_nan_losses_stop_with_one_line_message(tmp_path):
    trainer = make_trainer(
        tmp_path, toy_config(steps=50), dataset=ToyDataset(nan_at=tuple(range(12))), max_bad_steps=4
    )
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit()
    message = str(info.value)
    assert "\n" not in message
    assert "training stopped at step 4: 4 consecutive steps had a non-finite loss" in message
    assert trainer.bad_total == 4


def test_warmup_then_cosine_shape():
    factors = [warmup_cosine_factor(s, total_steps=100, warmup_steps=10, min_ratio=0.05) for s in range(100)]
    assert all(b > a for a, b in zip(factors[:10], factors[1:11]))  # warm-up rises to the peak
    assert factors[10] == pytest.approx(1.0)
    assert all(b < a for a, b in zip(factors[10:-1], factors[11:]))  # then strictly decreasing
    assert factors[-1] == pytest.approx(0.05)
    assert factors[55] == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 45 / 89)))


@pytest.mark.parametrize("kind", ["cosine", "onecycle"])
def test_scheduler_follows_the_shape(kind):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=0.1)
    scheduler = build_scheduler(optimizer, kind, total_steps=40, warmup_steps=8, min_ratio=0.01)
    lrs = []
    for _ in range(40):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = max(range(40), key=lrs.__getitem__)
    assert 7 <= peak <= 9 and lrs[peak] == pytest.approx(0.1, rel=1e-3)
    assert all(b <= a for a, b in zip(lrs[peak:-1], lrs[peak + 1:])) and lrs[-1] < 0.01
    assert all(b > a for a, b in zip(lrs[:peak], lrs[1:peak + 1]))


def test_csv_has_expected_columns_and_cosines(tmp_path):
    trainer = make_trainer(tmp_path, toy_config(steps=4, log_every=2), diagnostics_every=2)
    trainer.fit()
    with (tmp_path / "train_log.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        assert reader.fieldnames == [
            "step", "epoch", "lr", "grad_norm", "loss", "skipped",
            "loss/a", "loss/b", "weight/a", "weight/b", "cos/a/b", "shared_grad_norm/a", "shared_grad_norm/b",
        ]
    assert csv_columns(["a", "b"]) == reader.fieldnames
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row in rows:
        assert -1.0 <= float(row["cos/a/b"]) <= 1.0  # computed on the diagnostics steps 2 and 4
        assert float(row["shared_grad_norm/a"]) > 0 and float(row["shared_grad_norm/b"]) > 0
        assert float(row["loss"]) == pytest.approx(float(row["loss/a"]) + float(row["loss/b"]))
        assert float(row["grad_norm"]) > 0
    assert float(rows[0]["lr"]) > 0
    assert any((tmp_path / "tensorboard").iterdir())


def test_weight_decay_skips_biases_and_norms(tmp_path):
    trainer = make_trainer(tmp_path, toy_config(weight_decay=0.05))
    groups = trainer.optimizer.param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, param in trainer.model.named_parameters():
        assert (id(param) in decayed) == (param.ndim >= 2), name


def test_fp16_loss_scaling_leaves_the_update_unchanged(tmp_path):
    # The loss scale multiplies the network's gradients (not the loss values the strategy reads)
    # and is divided out again; the learnable uncertainty weights must come out right too.
    config = toy_config(steps=4, strategy="uncertainty")
    plain = make_trainer(tmp_path / "plain", config)
    plain.fit()
    scaled = make_trainer(tmp_path / "scaled", config)
    scaled.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    scaled.fit()
    assert scaled.scaler.get_scale() == 2.0**12  # no overflow: scale kept
    for key, value in plain.model.state_dict().items():
        torch.testing.assert_close(scaled.model.state_dict()[key], value, rtol=1e-5, atol=1e-7)
    for key, value in plain.strategy.state_dict()["log_vars"].items():
        torch.testing.assert_close(scaled.strategy.state_dict()["log_vars"][key], value, rtol=1e-5, atol=1e-7)


def test_graph_size_counts_autograd_nodes():
    from perception.distributed import autograd_graph_size

    x = torch.ones(3, requires_grad=True)
    assert autograd_graph_size((x * 2).sum()) == 3  # SumBackward, MulBackward, AccumulateGrad
    assert autograd_graph_size((x * 2 + x.exp()).sum()) == 5
    assert autograd_graph_size(torch.ones(2)) == 0


def test_a_log_with_fewer_columns_resumes_with_them_empty_and_a_foreign_one_is_refused(tmp_path):
    from perception.train.logs import TrainLogger

    older = [c for c in csv_columns(["a", "b"]) if not c.startswith("shared_grad_norm/")]
    lines = [",".join(older), ",".join(["2", "0", "0.1", "1.0", "3.0", "0", "1.0", "2.0"] + [""] * (len(older) - 8)),
             ",".join(["4", "0", "0.1", "1.0", "3.0", "0", "1.0", "2.0"] + [""] * (len(older) - 8))]
    (tmp_path / "train_log.csv").write_text("\n".join(lines) + "\n")
    TrainLogger(tmp_path, ["a", "b"], resume_step=2).close()
    with (tmp_path / "train_log.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == csv_columns(["a", "b"])
    assert [r["step"] for r in rows] == ["2"] and rows[0]["loss/b"] == "2.0" and rows[0]["shared_grad_norm/a"] == ""
    (tmp_path / "train_log.csv").write_text("step,other\n2,1\n")
    with pytest.raises(ValueError, match="do not match this run's"):
        TrainLogger(tmp_path, ["a", "b"], resume_step=2)
    # a log of fewer tasks (a subset of the columns, but not the older layout) is refused too
    (tmp_path / "train_log.csv").write_text(",".join(csv_columns(["a"])) + "\n")
    with pytest.raises(ValueError, match="do not match this run's"):
        TrainLogger(tmp_path, ["a", "b"], resume_step=2)
