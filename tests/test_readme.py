"""Every command in README.md's code blocks is run by a test: the test that runs it (or its fast
variant, on a tiny config and a few frames) is listed in :data:`COVERED`, which must name every
command of the README and only tests that exist; every ``perception`` command line parses."""
from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: What the README's command lines start with.
COMMAND_PREFIXES = ("make ", "perception ", "torchrun ", "python ", ".venv/bin/python ")

#: README command -> the test that runs it or its fast variant ("file::function"). A README
#: command without an entry fails :func:`test_every_readme_command_is_covered`.
COVERED: dict[str, str] = {
    "make demo": "tests/perception/inference/test_cli_demo.py::test_demo_writes_every_output",
    "make test": ".ci/run",
    "perception evaluate --checkpoint ckpt.pt --data /data/nuscenes --split val --out eval/":
        "tests/perception/inference/test_evaluate_cli.py::test_model_on_nuscenes_root",
    "perception evaluate --checkpoint ckpt.pt --data /data/kitti --split val --out eval-kitti/":
        "tests/perception/inference/test_evaluate_kitti.py::test_model_on_kitti_root",
    "perception evaluate --predictions results_nusc.json --data /data/nuscenes --split val --out eval/":
        "tests/perception/inference/test_evaluate_cli.py::test_predictions_file_scored_against_nuscenes_root",
    "perception evaluate --checkpoint ckpt.pt --data /data/dmd --split all --out eval-dmd/":
        "tests/perception/inference/test_evaluate_dmd.py::test_evaluate_scores_the_driver_head_on_a_dmd_root",
    "perception ros-node --transport dds --checkpoint perception/checkpoints/tiny.pt --profile nuscenes":
        "tests/perception/node/test_dds_processes.py::test_three_processes_over_dds",
    "perception train --config configs/base.yaml --data /data/nuscenes --out runs/base":
        "tests/test_readme.py::test_train_on_a_nuscenes_root",
    "perception train --config configs/tiny.yaml --out runs/tiny --strategy pcgrad":
        "tests/perception/train/test_train_cli.py::test_fusion_model_trains_and_resumes",
    "perception evaluate --checkpoint runs/tiny/checkpoints/last.pt --data sim --split val --out eval/":
        "tests/perception/inference/test_evaluate_cli.py::test_model_on_simulated_drive_writes_every_metric",
    "torchrun --nproc_per_node 2 -m perception.cli train --config configs/tiny.yaml --out runs/ddp":
        "tests/perception/train/test_train_ddp.py::test_two_gloo_processes_equal_single_process",
    "torchrun --nproc_per_node 2 -m perception.cli evaluate --checkpoint ckpt.pt --data sim --out eval-ddp/":
        "tests/perception/inference/test_evaluate_ddp.py::test_two_gloo_ranks_equal_single_process",
    "perception simulate --out data/drive --frames 20 --format rosbag2 --sweeps 1":
        "tests/sensors/ros/test_sim_bag.py::test_cli_simulate_rosbag2",
    "perception replay data/drive --inspect": "tests/perception/replay/test_replay_cli.py::test_inspect_lists_topics_and_exits",
    "perception replay data/drive --checkpoint perception/checkpoints/tiny.pt --out replay/":
        "tests/perception/replay/test_replay_cli.py::test_cli_writes_results_and_summary",
    "perception export --checkpoint ckpt.pt --out model.onnx":
        "tests/perception/export/test_onnx_export.py::test_evaluate_metrics_equal_between_runtimes",
    "perception evaluate --runtime onnxruntime --model model.onnx --data sim --out eval-ort/":
        "tests/perception/export/test_onnx_export.py::test_evaluate_metrics_equal_between_runtimes",
}


def readme_commands(text: str) -> list[str]:
    """Command lines of the fenced code blocks of ``text`` (comments after ``#`` removed)."""
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith(COMMAND_PREFIXES):
                commands.append(" ".join(line.split()))
    return commands


def _test_exists(where: str) -> bool:
    if "::" not in where:
        return (ROOT / where).is_file()
    path, name = where.split("::")
    tree = ast.parse((ROOT / path).read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def test_readme_commands_are_found():
    commands = readme_commands(README.read_text())
    assert "make demo" in commands and len(commands) >= 12


def test_every_readme_command_is_covered():
    commands = readme_commands(README.read_text())
    missing = [c for c in commands if c not in COVERED]
    assert not missing, f"README commands without a test (add them to COVERED in tests/test_readme.py): {missing}"
    stale = [c for c in COVERED if c not in commands]
    assert not stale, f"COVERED lists commands the README no longer has: {stale}"
    absent = {c: w for c, w in COVERED.items() if not _test_exists(w)}
    assert not absent, f"tests named in COVERED do not exist: {absent}"


def _perception_argv(command: str) -> list[str] | None:
    words = shlex.split(command)
    if words[0] == "perception":
        return words[1:]
    if words[0] == "torchrun" and "perception.cli" in words:
        return words[words.index("perception.cli") + 1:]
    return None


@pytest.mark.parametrize("command", [c for c in readme_commands(README.read_text()) if _perception_argv(c)])
def test_readme_perception_command_parses(command):
    from perception.cli import build_parser

    args = build_parser().parse_args(_perception_argv(command))
    assert callable(args.run)


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text()
    for command in readme_commands(README.read_text()):
        if command.startswith("make "):
            assert re.search(rf"^{command.split()[1]}:", makefile, flags=re.MULTILINE), command


@pytest.mark.slow
def test_train_on_a_nuscenes_root(tmp_path):
    """Fast variant of ``perception train --config configs/base.yaml --data /data/nuscenes``: the
    tiny preset on a two-frame nuScenes root (a simulated mini_train scene), two steps."""
    import dataclasses

    from perception.cli import main
    from perception.config import load_config, save_config
    from sensors.nuscenes.writer import write_nuscenes
    from sensors.sim import SimConfig, simulate_drive

    root = tmp_path / "nuscenes"
    sim = SimConfig(image_size=(90, 160), cabin_size=(48, 64), num_lidar_beams=16, lidar_azimuth_steps=360)
    write_nuscenes(list(simulate_drive(sim, seed=1, num_frames=2, scene_name="scene-0061")), root)
    config = load_config(ROOT / "configs" / "tiny.yaml")
    model = config.model
    config = dataclasses.replace(config, model=dataclasses.replace(
        model, cameras=("CAM_FRONT",), image=dataclasses.replace(model.image, height=64, width=128)))
    config_path = save_config(config, tmp_path / "tiny.yaml")
    out = tmp_path / "run"
    assert main(["train", "--config", str(config_path), "--data", str(root), "--split", "mini_train",
                 "--steps", "2", "--batch-size", "1", "--out", str(out), "--no-progress"]) == 0
    assert (out / "checkpoints" / "last.pt").is_file()
