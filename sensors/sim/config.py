"""Configuration of the drive simulator (:class:`SimConfig`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensors.frame import BevGrid

#: Timestamp of simulation time 0 in microseconds (a realistic nuScenes-like epoch, Aug 2018).
EPOCH_US = 1533151603547590


@dataclass(frozen=True)
class SimConfig:
    """What the simulator renders and how.

    Attributes:
        image_size: (H, W) pixels of each of the six surround cameras; the nuScenes intrinsics
            (calibrated at 900 x 1600) are scaled to it.
        num_lidar_beams: LiDAR channels, elevations linearly spaced over ``lidar_elevation_deg``.
        lidar_azimuth_steps: rays per beam per revolution (nuScenes LIDAR_TOP: about 1084).
        lidar_elevation_deg: (lowest, highest) beam elevation in degrees.
        lidar_max_range: metres; rays without a hit within it give no point.
        lidar_range_noise: standard deviation of the gaussian range noise, metres.
        lidar_dropout: probability that a return is lost.
        lidar_rate_hz: LiDAR revolutions per second (one sweep each).
        lidar_stamp_azimuth_deg: ego-frame azimuth (degrees, left of forward positive) the
            LiDAR beam points along at a sweep's timestamp. The beam turns clockwise seen from
            above; each surround camera is exposed when the beam crosses its optical axis during
            the revolution that ends at the timestamp (:func:`sensors.sim.rig.camera_trigger_offset`).
            106 reproduces real nuScenes (CAM_FRONT_LEFT 43 ms ... CAM_BACK_LEFT 0.5 ms before
            the LiDAR); 0 is KITTI's trigger (the front camera fires as the scanner faces forward,
            at the LiDAR timestamp).
        keyframe_rate_hz: annotated samples per second; ``lidar_rate_hz / keyframe_rate_hz``
            must be an integer (the sweeps per keyframe interval).
        sweeps_per_keyframe: LiDAR sweeps rendered per keyframe interval, the key sweep
            included; the ``sweeps_per_keyframe - 1`` non-key ones, the latest before the
            keyframe, go to ``Frame.sweeps`` (0 or 1: none).
        cabin_size: (H, W) of the driver-facing camera.
        cabin_rate_hz: frame rate of the driver-facing camera, which free-runs (it is not
            triggered by the LiDAR): its frames are at ``n / cabin_rate_hz`` and a keyframe takes
            the latest one at or before the LiDAR timestamp.
        num_agents: agents spawned per town block (one ~100 m stretch along the route,
            all streets of it); parked cars, pedestrians, cones... included.
        bev_grid: ego-frame grid of the BEV map ground truth.
        ego_speed: mean ego speed, m/s.
        annotation_range: boxes whose centre is within this ground distance of the ego
            origin are annotated, metres.
        enable_cameras: render the six surround cameras.
        enable_depth: fill the exact camera depth maps (needs ``enable_cameras``).
        enable_cabin: render the driver-facing camera and the driver labels.
    """

    image_size: tuple[int, int] = (450, 800)
    num_lidar_beams: int = 32
    lidar_azimuth_steps: int = 1084
    lidar_elevation_deg: tuple[float, float] = (-30.67, 10.67)
    lidar_max_range: float = 70.0
    lidar_range_noise: float = 0.02
    lidar_dropout: float = 0.1
    lidar_rate_hz: float = 20.0
    lidar_stamp_azimuth_deg: float = 106.0
    keyframe_rate_hz: float = 2.0
    sweeps_per_keyframe: int = 10
    cabin_size: tuple[int, int] = (240, 320)
    cabin_rate_hz: float = 30.0
    num_agents: int = 60
    bev_grid: BevGrid = field(default_factory=BevGrid)
    ego_speed: float = 8.5
    annotation_range: float = 70.0
    enable_cameras: bool = True
    enable_depth: bool = True
    enable_cabin: bool = True

    def __post_init__(self) -> None:
        for name in ("image_size", "cabin_size"):
            size = getattr(self, name)
            if len(size) != 2 or min(size) < 8:
                raise ValueError(f"SimConfig.{name} must be (H, W) with both >= 8 pixels, got {size}")
        if self.num_lidar_beams < 1 or self.lidar_azimuth_steps < 8:
            raise ValueError("SimConfig: need num_lidar_beams >= 1 and lidar_azimuth_steps >= 8")
        low, high = self.lidar_elevation_deg
        if not -90.0 < low <= high < 90.0:
            raise ValueError(f"SimConfig.lidar_elevation_deg must be increasing within (-90, 90), got {self.lidar_elevation_deg}")
        if self.lidar_max_range <= 1.0 or self.lidar_range_noise < 0 or not 0.0 <= self.lidar_dropout < 1.0:
            raise ValueError("SimConfig: lidar_max_range > 1 m, lidar_range_noise >= 0, 0 <= lidar_dropout < 1")
        if not np.isfinite(self.lidar_stamp_azimuth_deg):
            raise ValueError(f"SimConfig.lidar_stamp_azimuth_deg must be finite, got {self.lidar_stamp_azimuth_deg}")
        if self.lidar_rate_hz <= 0 or self.keyframe_rate_hz <= 0 or self.cabin_rate_hz <= 0:
            raise ValueError("SimConfig: rates must be positive")
        ratio = self.lidar_rate_hz / self.keyframe_rate_hz
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"SimConfig: lidar_rate_hz / keyframe_rate_hz must be a positive integer, got {ratio}")
        if not 0 <= self.sweeps_per_keyframe <= round(ratio):
            raise ValueError(f"SimConfig.sweeps_per_keyframe must be in [0, {round(ratio)}], got {self.sweeps_per_keyframe}")
        if self.num_agents < 0 or self.ego_speed <= 0 or self.annotation_range <= 0:
            raise ValueError("SimConfig: num_agents >= 0, ego_speed > 0, annotation_range > 0")
        if self.enable_depth and not self.enable_cameras:
            raise ValueError("SimConfig.enable_depth needs enable_cameras")

    @property
    def sweeps_per_interval(self) -> int:
        """LiDAR sweeps between two keyframes (lidar rate / keyframe rate)."""
        return int(round(self.lidar_rate_hz / self.keyframe_rate_hz))
