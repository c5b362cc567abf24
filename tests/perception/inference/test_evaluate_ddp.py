"""Sharded evaluation: two gloo processes under torchrun give the metrics of one process.

The data is a simulated drive written once as a nuScenes root, so that both runs read the same
bytes (and the ground truth comes through the official loader).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eval_setup import REPO, SIM, tiny_config, write_checkpoint


def _scores(folder) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.pop("latency")
    metrics.pop("meta")
    return metrics


@pytest.mark.slow
def test_two_gloo_ranks_equal_single_process(tmp_path):
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import SimConfig
    from sensors.sim.drive import drive_simulator
    from sensors.sim.town_map import town_map

    root = tmp_path / "nuscenes"
    sim = drive_simulator(SimConfig(**SIM), seed=5, num_frames=5, scene_name="scene-0916")
    write_nuscenes([sim.keyframe(k) for k in range(5)], root, maps={"scene-0916": town_map(sim.town)})
    checkpoint, config = write_checkpoint(tiny_config(), tmp_path)
    args = ["evaluate", "--checkpoint", str(checkpoint), "--config", str(config), "--data", str(root), "--split",
            "mini_val", "--samples", "2", "--batch-size", "2", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
                           "-m", "perception.cli", *args, "--out", str(tmp_path / "ddp")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Same thread count as the ranks: intra-op threading alone changes float sums in the last bits.
    done = subprocess.run([sys.executable, "-m", "perception.cli", *args, "--out", str(tmp_path / "one")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert ddp["meta"]["world_size"] == 2 and ddp["meta"]["frames"] == 5
    assert ddp["latency"]["total"]["count"] == 5 and ddp["driver"]["frames"]["gaze"]["accuracy"] is not None
    assert _scores(tmp_path / "ddp") == _scores(tmp_path / "one")
    assert _scores(tmp_path / "one")["bev_segmentation"]["miou"] > 0  # a non-trivial number was compared
    for name in ("results_nusc.json", "samples/sample_000.png", "samples/sample_001.png"):
        assert (tmp_path / "ddp" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
