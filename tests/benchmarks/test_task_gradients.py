"""benchmarks/task_gradients.py: per-task gradient norms on each shared part of the trunk."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "perception" / "model"))
from model_frames import frames_batch, make_frame, small_config  # noqa: E402

from perception.model import FusionModel  # noqa: E402

spec = importlib.util.spec_from_file_location("bench_task_gradients", ROOT / "benchmarks" / "task_gradients.py")
task_gradients = importlib.util.module_from_spec(spec)
spec.loader.exec_module(task_gradients)


def test_the_parts_partition_the_shared_parameters_and_the_norms_add_up_to_the_whole() -> None:
    torch.manual_seed(0)
    model = FusionModel(small_config().model)
    parts = model.shared_parts()
    assert list(parts) == ["image encoder", "view transform", "LiDAR encoder", "fuser + BEV backbone"]
    ids = [id(p) for params in parts.values() for p in params]
    assert sorted(ids) == sorted(id(p) for p in model.shared_parameters())
    batch = frames_batch([make_frame(0), make_frame(1)], model.config)
    norms = task_gradients.gradient_norms(model, [batch])
    # independently: the segmentation loss's gradient on every shared parameter at once
    torch.manual_seed(0)
    loss = model.losses(model(batch), batch)["segmentation"]
    whole = torch.autograd.grad((loss.per_sample * loss.present).sum() / loss.present.sum(),
                                model.shared_parameters(), allow_unused=True)
    total = sum(float((g ** 2).sum()) for g in whole if g is not None) ** 0.5
    by_part = sum(norms[part]["segmentation"] ** 2 for part in parts) ** 0.5
    assert by_part == pytest.approx(total, rel=1e-4)
    # the driver head reads the cabin image only: nothing of its gradient reaches the BEV parts
    assert norms["LiDAR encoder"]["driver"] == 0.0 and norms["fuser + BEV backbone"]["driver"] == 0.0
    assert norms["image encoder"]["driver"] > 0
    # a task absent from a batch is averaged over the batches that have it
    unlabelled = frames_batch([make_frame(2, driver_labels=False), make_frame(3, driver_labels=False)], model.config)
    both = task_gradients.gradient_norms(model, [batch, unlabelled])
    assert both["image encoder"]["driver"] == pytest.approx(norms["image encoder"]["driver"], rel=1e-5)
    assert both["image encoder"]["depth"] != pytest.approx(norms["image encoder"]["depth"], rel=1e-3)


def test_a_file_that_is_not_a_checkpoint_is_one_line_and_exit_2(tmp_path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "task_gradients.py"), str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr, result.stderr
