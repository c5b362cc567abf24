"""The shipped ROS 2 files under configs/ros/: the parameter file is in the format ``ros2 run
--params-file`` reads and holds exactly the parameters the rclpy node declares, with the types it
declares them with (rclpy refuses a parameter whose YAML type differs from its declared default);
the launch file is a ROS 2 Python launch file."""
from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import yaml

from perception.node.params import DEFAULT_PARAMS, NODE_NAME, NodeParams, load_params

LAUNCH = DEFAULT_PARAMS.parent / "perception_node.launch.py"


def test_parameter_file_is_ros2_format_with_the_declared_names_and_types():
    spec = yaml.safe_load(DEFAULT_PARAMS.read_text())
    assert list(spec) == [NODE_NAME] and list(spec[NODE_NAME]) == ["ros__parameters"]
    values = spec[NODE_NAME]["ros__parameters"]
    declared = {f.name: f.type for f in fields(NodeParams)}
    assert set(values) == set(declared)
    # YAML `1` is an int, `1.0` a float: the type rclpy infers must be the one it declares.
    assert {name: type(value).__name__ for name, value in values.items()} == declared
    defaults = NodeParams(checkpoint=values["checkpoint"])
    assert all(values[f.name] == getattr(defaults, f.name) for f in fields(NodeParams) if f.name != "checkpoint")
    assert Path(load_params(DEFAULT_PARAMS).checkpoint).is_file()


def test_launch_file_is_a_ros2_python_launch_file():
    tree = ast.parse(LAUNCH.read_text(), str(LAUNCH))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {"launch", "launch.actions", "launch.substitutions"} <= imported
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions] == ["generate_launch_description"] and not functions[0].args.args
    source = LAUNCH.read_text()
    # It runs the rclpy transport with the parameter file named by the params_file argument,
    # whose default is the shipped file next to it.
    assert '"--transport", "rclpy", "--params"' in source and 'LaunchConfiguration("params_file")' in source
    assert '"perception_node.yaml"' in source and DEFAULT_PARAMS.parent == LAUNCH.parent


def test_relative_paths_resolve_alike_for_both_transports(tmp_path, monkeypatch):
    """The rclpy node reads ROS parameters into params_from_dict, the DDS node a YAML file through
    load_params: a relative checkpoint (or config) resolves the same way in both, from the working
    directory when it exists there, else from the repository."""
    from perception.node.params import params_from_dict

    monkeypatch.chdir(tmp_path)
    repo = DEFAULT_PARAMS.parents[2]
    values = {"checkpoint": "perception/checkpoints/tiny.pt", "config": "configs/ros/perception_node.yaml"}
    from_ros = params_from_dict(values)
    assert from_ros.checkpoint == str(repo / values["checkpoint"]) and from_ros.config == str(repo / values["config"])
    assert load_params(DEFAULT_PARAMS).checkpoint == from_ros.checkpoint
    (tmp_path / "mine.pt").write_bytes(b"")  # present in the working directory: that one
    assert params_from_dict({"checkpoint": "mine.pt"}).checkpoint == "mine.pt"


def test_node_start_up_imports_no_training_library():
    """The node (and every inference command) loads the model without torchjd and cvxpy (multi-task
    training only; ~1.5 s of start-up each time)."""
    import subprocess
    import sys

    code = ("import sys; import perception.node.startup, perception.node.logic, perception.inference.predict; "
            "print(sorted({'torchjd', 'cvxpy'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=DEFAULT_PARAMS.parents[2],
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_docs_loopback_configuration_is_the_tests_one():
    """docs/ros.md's CYCLONEDDS_URI for one machine is LOOPBACK_CONFIG, character for character."""
    import re

    import pytest

    pytest.importorskip("cyclonedds")
    from perception.node.dds import LOOPBACK_CONFIG

    docs = (DEFAULT_PARAMS.parents[2] / "docs" / "ros.md").read_text()
    assert re.findall(r'export CYCLONEDDS_URI="([^"]*)"', docs) == [LOOPBACK_CONFIG]
