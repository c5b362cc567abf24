"""Checkpoints: atomic writes, weights_only loading, clear errors for mismatches and corruption."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from train_toy import ToyMultiTask, make_trainer, toy_config

from perception import checkpoint as checkpoint_module
from perception.checkpoint import CheckpointError, load_checkpoint
from perception.config import config_to_dict


@pytest.fixture()
def trained(tmp_path):
    trainer = make_trainer(tmp_path, toy_config(steps=5, checkpoint_every=5))
    trainer.fit()
    return trainer


def test_checkpoint_loads_with_weights_only(trained):
    state = torch.load(trained.checkpoint_path, weights_only=True)
    assert state["format"] == "perception-checkpoint"
    assert state["step"] == 5
    assert state["config"] == config_to_dict(trained.config)
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    for key, value in trained.model.state_dict().items():
        assert torch.equal(state["model"][key], value)


def test_crash_mid_save_keeps_previous_checkpoint(trained, monkeypatch):
    before = trained.checkpoint_path.read_bytes()

    def crashing_save(obj, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crashing_save)
    trained.step = 6
    with pytest.raises(OSError, match="disk full"):
        trained.save()
    assert trained.checkpoint_path.read_bytes() == before
    assert load_checkpoint(trained.checkpoint_path)["step"] == 5
    assert sorted(p.name for p in trained.checkpoint_path.parent.iterdir()) == ["last.pt"]  # no temp left


def test_load_into_model_of_other_size_names_key_and_shapes(trained):
    with pytest.raises(CheckpointError, match=r"'trunk.0.weight' has shape \(16, 4\) in the checkpoint but \(8, 4\)"):
        load_checkpoint(trained.checkpoint_path, model=ToyMultiTask(hidden=8))


def test_load_with_other_config_names_first_mismatched_key(trained):
    config = dataclasses.replace(
        trained.config, model=dataclasses.replace(trained.config.model, use_lidar=False, modality_dropout=0.5)
    )
    with pytest.raises(CheckpointError, match=r"key model.use_lidar is True in the checkpoint but False"):
        load_checkpoint(trained.checkpoint_path, config=config_to_dict(config))


def test_load_restores_weights(trained):
    model = ToyMultiTask()
    load_checkpoint(trained.checkpoint_path, model=model)
    for key, value in trained.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_truncated_file_is_one_line_error(trained, tmp_path, cut):
    data = trained.checkpoint_path.read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(broken)
    message = str(info.value)
    assert "\n" not in message and str(broken) in message and "cannot read checkpoint" in message


@pytest.mark.parametrize("content", [b"hello\n", b"model:\n  x: 1\n", b"\x89PNG\r\n\x1a\n" + bytes(40)])
def test_a_file_that_is_no_torch_file_is_one_line_error(tmp_path, content):
    path = tmp_path / "notes.pt"  # e.g. a text file passed as --checkpoint by mistake
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "cannot read checkpoint" in message


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a perception checkpoint"):
        load_checkpoint(path)


class GrownToy(ToyMultiTask):
    """The toy model with a wider head ``b`` and an extra head ``c`` (a grown architecture)."""

    def __init__(self) -> None:
        super().__init__(hidden=16)
        self.head_b = torch.nn.Linear(16, 2)
        self.head_c = torch.nn.Linear(16, 1)


def test_initial_weights_copy_matching_tensors_only(trained):
    grown = GrownToy()
    before = {k: v.clone() for k, v in grown.state_dict().items()}
    report = checkpoint_module.load_initial_weights(trained.checkpoint_path, grown)
    source = trained.model.state_dict()
    assert set(report.loaded) == {k for k in source if k.startswith(("trunk.", "head_a."))}
    assert set(report.fresh) == {"head_b.weight", "head_b.bias", "head_c.weight", "head_c.bias"}
    assert set(report.unused) == set()  # head_b exists in both, only its shape differs
    for key, value in grown.state_dict().items():
        expected = source[key] if key in report.loaded else before[key]
        assert torch.equal(value, expected), key


def test_initial_weights_that_fit_nothing_are_an_error(trained):
    with pytest.raises(CheckpointError, match="no parameter of the checkpoint fits"):
        checkpoint_module.load_initial_weights(trained.checkpoint_path, torch.nn.Linear(3, 3))


def test_stale_temporaries_of_a_killed_run_are_removed_when_the_next_run_starts(trained, tmp_path):
    """A SIGKILL during ``save_checkpoint`` leaves ``.<name>.<random>.tmp.pt``; the next trainer removes it."""
    folder = trained.checkpoint_path.parent
    stale = [folder / ".last.pt.k2j4x9.tmp.pt", folder / ".step_0000005.pt.a8b7c6.tmp.pt"]
    for path in stale:
        path.write_bytes(b"PK half a checkpoint")
    kept = trained.checkpoint_path.read_bytes()
    make_trainer(tmp_path, toy_config(steps=5, checkpoint_every=5)).resume()
    assert not any(path.exists() for path in stale)
    assert trained.checkpoint_path.read_bytes() == kept
