"""The ``perception`` command: the main job end to end and one-line user errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from eval_setup import tiny_config, write_checkpoint

from perception.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised tiny model on a small simulated setup (the shipped one is bigger)."""
    ckpt, _ = write_checkpoint(tiny_config(frames_per_scene=4), tmp_path_factory.mktemp("ckpt"))
    return ckpt


def test_demo_runs_end_to_end(tmp_path: Path, checkpoint: Path, capsys):
    status = main(["demo", "--out", str(tmp_path), "--frames", "2", "--checkpoint", str(checkpoint), "--cabin-seconds", "4"])
    assert status == 0
    out = capsys.readouterr().out
    assert "read back" in out and "NDS" in out and "BEV mIoU" in out and "gaze acc" in out
    assert (tmp_path / "preview.png").stat().st_size > 5_000
    assert (tmp_path / "nuscenes" / "v1.0-mini" / "sample.json").exists()
    metrics = json.loads((tmp_path / "evaluation" / "metrics.json").read_text())
    assert metrics["meta"]["frames"] == 2
    assert {"nuscenes_detection", "bev_segmentation", "depth", "driver", "latency"} <= set(metrics)
    assert (tmp_path / "evaluation" / "report.md").read_text().count("|") > 10


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perception.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo", "--frames", "0"], "--frames must be at least 1"),
        (["demo", "--checkpoint", "/nonexistent/model.pt"], "/nonexistent/model.pt: checkpoint file does not exist"),
        (["simulate", "--out", "/tmp/x", "--frames", "-1"], "--frames must be >= 1"),
    ],
)
def test_user_error_is_one_line_and_exit_2(tmp_path: Path, args, message):
    result = run_cli(*args, "--out", str(tmp_path)) if args[0] == "demo" else run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
