"""Parameters of the ROS 2 perception node (:class:`NodeParams`), as in ``configs/ros/perception_node.yaml``.

Each transport reads them its own way (rclpy: ROS parameters; Cyclone DDS: the YAML file and
command-line options) and checks them here, so that a bad value ends the node at start-up with
one line naming the parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from sensors.errors import InvalidValueError, MissingDataError
from sensors.ros.profile import Profile, load_profile

#: The shipped parameter file.
DEFAULT_PARAMS = Path(__file__).resolve().parents[2] / "configs" / "ros" / "perception_node.yaml"
#: Node name (the parameter file's top-level key, as ``ros2 run --params-file`` expects).
NODE_NAME = "perception_node"


@dataclass(frozen=True)
class NodeParams:
    """What the node is told at start-up.

    Attributes:
        checkpoint: model checkpoint (``.pt``).
        config: YAML config whose model section must match the checkpoint's ("" : the stored one).
        profile: topic profile: a shipped name (``sim``, ``nuscenes``, ``autoware``) or a YAML path.
        device: ``cpu``, ``cuda`` or ``cuda:N`` ("" : cuda when available).
        sync_tolerance_s: largest |camera stamp - LiDAR stamp| for an image to join a frame (s).
        sync_wait_s: extra time the synchronizer waits for late messages before building a frame (s).
        score_threshold: boxes scoring below it are not published.
        output_prefix: namespace of the output topics.
        sensor_timeout_s: a sensor silent for longer turns WARN in the diagnostics (s).
        max_stamp_jump_s: a message stamped this far from the newest accepted stamp is refused (s).
        resync_after: that many LiDAR messages refused in a row for their stamps: the node
            restarts synchronization on the new time base (a bag that loops, a clock reset).
        diagnostics_period_s: period of ``/diagnostics`` (s).
    """

    checkpoint: str
    config: str = ""
    profile: str = "sim"
    device: str = ""
    sync_tolerance_s: float = 0.12
    sync_wait_s: float = 0.1
    score_threshold: float = 0.0
    output_prefix: str = "/perception"
    sensor_timeout_s: float = 1.0
    max_stamp_jump_s: float = 10.0
    resync_after: int = 5
    diagnostics_period_s: float = 1.0

    def check(self) -> Profile:
        """Validate every parameter; returns the topic profile.

        Raises:
            MissingDataError: the checkpoint, the config or a profile file does not exist, or the
                profile name is unknown.
            InvalidValueError: a value out of range.
        """
        if not self.checkpoint or not Path(self.checkpoint).is_file():
            raise MissingDataError(Path(self.checkpoint or "<empty>"), "parameter checkpoint: no such file")
        if self.config and not Path(self.config).is_file():
            raise MissingDataError(Path(self.config), "parameter config: no such file")
        for name in ("sync_tolerance_s", "sync_wait_s", "sensor_timeout_s", "max_stamp_jump_s", "diagnostics_period_s"):
            if not float(getattr(self, name)) >= 0:
                raise InvalidValueError(name, f"must be >= 0, got {getattr(self, name)}")
        if self.diagnostics_period_s <= 0 or self.max_stamp_jump_s <= 0:
            raise InvalidValueError("diagnostics_period_s/max_stamp_jump_s", "must be > 0")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise InvalidValueError("score_threshold", f"must be in [0, 1], got {self.score_threshold}")
        if self.resync_after < 1:
            raise InvalidValueError("resync_after", f"must be >= 1, got {self.resync_after}")
        if not self.output_prefix.startswith("/"):
            raise InvalidValueError("output_prefix", f"must be an absolute topic namespace, got {self.output_prefix!r}")
        return load_profile(self.profile)


def params_from_dict(values: dict[str, Any], source: str = "parameters") -> NodeParams:
    """:class:`NodeParams` from a mapping (unknown keys refused, types converted).

    Raises:
        InvalidValueError: an unknown key or a value of the wrong type.
    """
    known = {f.name: f for f in fields(NodeParams)}
    if unknown := sorted(set(values) - set(known)):
        raise InvalidValueError(source, f"unknown parameters {unknown} (known: {sorted(known)})")
    converted: dict[str, Any] = {}
    for name, value in values.items():
        kind = {"str": str, "float": float, "int": int}[str(known[name].type)]
        try:
            converted[name] = kind(value)
        except (TypeError, ValueError):
            raise InvalidValueError(source, f"parameter {name}: expected {kind.__name__}, got {value!r}") from None
    if "checkpoint" not in converted:
        raise InvalidValueError(source, "parameter checkpoint is required")
    return NodeParams(**converted)


def load_params(path: str | Path = DEFAULT_PARAMS, **overrides: Any) -> NodeParams:
    """Parameters of a ROS 2 parameter file (``perception_node: ros__parameters: {...}``), with
    ``overrides`` (None values ignored) on top.

    Raises:
        MissingDataError: no such file.
        InvalidValueError: not a parameter file of this node, or bad parameters.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(path, "parameter file does not exist")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise InvalidValueError(str(path), f"does not parse: {error}") from None
    values = (spec.get(NODE_NAME) or {}).get("ros__parameters") if isinstance(spec, dict) else None
    if not isinstance(values, dict):
        raise InvalidValueError(str(path), f"expected '{NODE_NAME}: ros__parameters: {{...}}'")
    merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
    if "checkpoint" in merged and merged["checkpoint"] and not Path(str(merged["checkpoint"])).is_absolute():
        merged["checkpoint"] = str(resolve_path(str(merged["checkpoint"])))
    return params_from_dict(merged, str(path))


def resolve_path(value: str) -> Path:
    """A relative path in a parameter file: relative to the working directory when it exists
    there, else to the repository (the shipped file names ``perception/checkpoints/tiny.pt``)."""
    here = Path(value)
    return here if here.exists() else DEFAULT_PARAMS.parents[2] / value
