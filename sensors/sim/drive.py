"""The drive: the ego car on the main avenue, all sensors at 20 Hz LiDAR / 2 Hz keyframes.

Simulation time t (seconds) 0 is ``sensors.sim.config.EPOCH_US``. Sweep g is at t = g / lidar
rate; keyframe i is sweep ``(i + 1) * R - 1`` (R sweeps per keyframe interval), so the
non-key sweeps of keyframe i are the ones since keyframe i - 1.

Sensors fire at their own times, as on the real car: the keyframe's reference time is its LiDAR
sweep; each surround camera is exposed when the spinning LiDAR's beam crosses its optical axis
(:func:`sensors.sim.rig.camera_trigger_offset`, up to one revolution earlier) and the free-running
cabin camera at its latest frame. A camera is rendered from the ego pose at its own time with the
agents where they are then; ``Camera.ego_to_global`` is that pose and ``Camera.cam_to_ego`` its
mounting carried into the ego frame at the LiDAR time (:func:`sensors.geometry.sensor_to_reference_ego`).
Timestamps are whole microseconds and every pose is taken at exactly its written timestamp.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from sensors.boxes import Boxes3D
from sensors.frame import (
    CAMERA_NAMES,
    Annotations,
    BevMap,
    Camera,
    DriverLabels,
    Frame,
    Lidar,
    Sweep,
)
from sensors.geometry import (
    invert_transform,
    make_transform,
    rotation_z,
    sensor_to_reference_ego,
)
from sensors.nuscenes.map_expansion import MapRasterizer
from sensors.sim.agents import Agents, spawn_agents
from sensors.sim.cameras import make_scene, render_view
from sensors.sim.config import EPOCH_US, SimConfig
from sensors.sim.driver import DriverScript
from sensors.sim.face import render_cabin
from sensors.sim.layout import make_town
from sensors.sim.lidar import beam_directions, lidar_sweep
from sensors.sim.raycast import count_in_boxes
from sensors.sim.rig import (
    NUSCENES_RIG,
    cabin_camera,
    camera_to_ego,
    camera_trigger_offset,
    intrinsics,
    lidar_to_ego,
)
from sensors.sim.shapes import Parts
from sensors.sim.town import LANE_WIDTH, Town, avenue_point
from sensors.sim.town_map import town_map
from sensors.sim.warmup import warm_up

#: The simulated world spans the drive rounded up to a multiple of this many seconds.
WORLD_MINUTE = 60.0
#: Lateral offset of the ego lane on the main avenue (inner right lane), metres.
EGO_LANE = -0.5 * LANE_WIDTH


def token(*parts: object) -> str:
    """A 32-hex-digit token (like nuScenes tokens) derived from ``parts``."""
    return hashlib.md5("/".join(str(p) for p in parts).encode()).hexdigest()


class DriveSimulator:
    """The world of one seed and everything needed to render its sensors at any time.

    Args:
        config: what to render.
        seed: world, traffic, driver behaviour and sensor noise.
        duration: seconds of drive the town must cover.
        scene_name: scene the frames belong to (part of every token).
    """

    def __init__(self, config: SimConfig, seed: int, duration: float, scene_name: str) -> None:
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        warm_up()
        self.config, self.seed, self.scene = config, int(seed), scene_name
        rng = np.random.default_rng([self.seed, 11])
        self.ego_v0 = config.ego_speed * rng.uniform(0.9, 1.1)
        self.ego_x0 = rng.uniform(-20.0, 0.0)
        self.ego_wobble = rng.uniform(0, 2 * math.pi)
        # The world covers the drive rounded up to whole minutes, so drives of different lengths
        # (up to the same minute) share their world and their first frames.
        duration = WORLD_MINUTE * max(1, math.ceil(duration / WORLD_MINUTE - 1e-9))
        self.town: Town = make_town(self.seed, self.ego_x0 - 10.0, self.ego_x(duration) + 10.0)
        times = np.linspace(0.0, duration, max(2, int(duration * 20) + 1))
        path = np.array([self.ego_x(t) for t in times])

        def ego_time_at(x: float) -> float | None:
            return float(np.interp(x, path, times)) if path[0] - 5.0 <= x <= path[-1] + 5.0 else None

        self.agents: Agents = spawn_agents(self.seed, self.town, config.num_agents, EGO_LANE, ego_time_at)
        self.instance_tokens = [token(scene_name, self.seed, "instance", i) for i in range(len(self.agents))]
        self.beams = beam_directions(config)
        self.driver = DriverScript(self.seed)
        #: Seconds spent per stage (lidar, cameras, cabin, boxes, bev_map): wall and process CPU.
        self.timings: dict[str, float] = {}
        self.cpu_timings: dict[str, float] = {}
        self._map: MapRasterizer | None = None

    # -- ego motion --------------------------------------------------------------------------
    def ego_x(self, t: float) -> float:
        """Ego position along the main avenue (global x, metres) at time ``t``: mean speed plus a
        slow +-1.2 m/s speed variation."""
        w = 2 * math.pi / 25.0
        return self.ego_x0 + self.ego_v0 * t + 1.2 / w * (math.cos(self.ego_wobble) - math.cos(w * t + self.ego_wobble))

    def ego_pose(self, t: float) -> np.ndarray:
        """4x4 ego_to_global at time ``t`` (ego on the ground, heading along its lane)."""
        x, y, theta = avenue_point(self.town.avenues[self.town.main_avenue], self.ego_x(t), EGO_LANE)
        return make_transform(rotation_z(theta), [x, y, 0.0])

    # -- sensors -----------------------------------------------------------------------------
    def _timed(self, stage: str, start: tuple[float, float]) -> None:
        """Add the wall and CPU seconds since ``start`` (from :func:`_now`) to ``stage``."""
        wall, cpu = _now()
        self.timings[stage] = self.timings.get(stage, 0.0) + wall - start[0]
        self.cpu_timings[stage] = self.cpu_timings.get(stage, 0.0) + cpu - start[1]

    def world_parts(self, t: float) -> Parts:
        """Every solid shape (scenery and agents) at time ``t``, global frame."""
        return Parts.concatenate([self.town.buildings, self.agents.parts_at(t)])

    def sweep(self, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LiDAR sweep ``g``: points (N, 5) in the ego frame, owners (N,), ego_to_global."""
        start = _now()
        t = g / self.config.lidar_rate_hz
        pose = self.ego_pose(t)
        rng = np.random.default_rng([self.seed, 13, g])
        points, owner = lidar_sweep(self.config, self.town, self.world_parts(t), pose, rng, self.beams)
        self._timed("lidar", start)
        return points, owner, pose

    def camera_timestamp(self, name: str, timestamp: int) -> int:
        """Exposure time (microseconds) of surround camera ``name`` for the sweep at ``timestamp``."""
        cfg = self.config
        offset = camera_trigger_offset(NUSCENES_RIG[name][3], cfg.lidar_stamp_azimuth_deg, cfg.lidar_rate_hz)
        return timestamp + int(round(offset * 1e6))

    def cabin_timestamp(self, timestamp: int) -> int:
        """Time (microseconds) of the free-running cabin camera's latest frame at or before ``timestamp``."""
        rate = self.config.cabin_rate_hz
        frame = math.floor(_seconds(timestamp) * rate + 1e-9)
        return _stamp(frame / rate)

    def cameras(self, timestamp: int, pose: np.ndarray) -> dict[str, Camera]:
        """The six surround cameras of the LiDAR sweep at ``timestamp`` (ego at ``pose`` then),
        each rendered at its own exposure time (:meth:`camera_timestamp`)."""
        start = _now()
        size = self.config.image_size
        out = {}
        for name in CAMERA_NAMES:
            x, y, z, yaw, focal, cx, cy = NUSCENES_RIG[name]
            stamp = self.camera_timestamp(name, timestamp)
            t = _seconds(stamp)
            pose_then = self.ego_pose(t)
            scene = make_scene(self.town, self.world_parts(t), pose_then[:3, 3])
            mounting = camera_to_ego(x, y, z, yaw)
            k = intrinsics(focal, cx, cy, size)
            image, depth = render_view(scene, pose_then @ mounting, k, size)
            out[name] = Camera(name, image, k, sensor_to_reference_ego(mounting, pose_then, pose), stamp,
                               depth if self.config.enable_depth else None, ego_to_global=pose_then)
        self._timed("cameras", start)
        return out

    def cabin(self, timestamp: int, pose: np.ndarray) -> tuple[Camera, DriverLabels]:
        """The driver-facing camera and its labels for the LiDAR sweep at ``timestamp`` (ego at
        ``pose`` then), taken at the cabin camera's own frame time (:meth:`cabin_timestamp`)."""
        start = _now()
        stamp = self.cabin_timestamp(timestamp)
        camera, labels = cabin_frame(self.driver, _seconds(stamp), stamp, self.config.cabin_size, self.seed)
        pose_then = self.ego_pose(_seconds(stamp))
        camera = replace(camera, cam_to_ego=sensor_to_reference_ego(camera.cam_to_ego, pose_then, pose),
                         ego_to_global=pose_then)
        self._timed("cabin", start)
        return camera, labels

    def boxes(self, t: float, pose: np.ndarray, points: np.ndarray) -> Boxes3D:
        """Ground-truth boxes (ego frame) of agents within the annotation range at time ``t``,
        with ``num_lidar_points`` counted in ``points`` (ego frame)."""
        start = _now()
        center, yaw, velocity = self.agents.state(t)
        near = np.flatnonzero(np.linalg.norm(center[:, :2] - pose[:2, 3], axis=1) <= self.config.annotation_range)
        speed = np.linalg.norm(velocity, axis=1)
        boxes = Boxes3D(center[near], self.agents.size[near], yaw[near], velocity[near], self.agents.label[near],
                        attribute=self.agents.attributes(speed)[near],
                        token=[self.instance_tokens[i] for i in near]).transform(invert_transform(pose))
        boxes.num_lidar_points = count_in_boxes(points[:, :3].astype(np.float64), boxes.center, boxes.size / 2,
                                                np.cos(boxes.yaw), np.sin(boxes.yaw))
        self._timed("boxes", start)
        return boxes

    def bev_map(self, pose: np.ndarray) -> BevMap:
        """Map layers around the ego at ``pose`` on the configured grid: the town's map expansion
        (:func:`sensors.sim.town_map.town_map`) rasterized with the nuScenes devkit's rules
        (:class:`sensors.nuscenes.map_expansion.MapRasterizer`), so equal to the map a nuScenes
        root written from this drive gives."""
        start = _now()
        if self._map is None:
            self._map = MapRasterizer.from_geometry(town_map(self.town), self.scene)
        bev = self._map.rasterize(pose, self.config.bev_grid)
        self._timed("bev_map", start)
        return bev

    def keyframe(self, index: int) -> Frame:
        """Keyframe ``index`` with all its sensors and ground truth."""
        cfg = self.config
        per = cfg.sweeps_per_interval
        g_key = (index + 1) * per - 1
        t = g_key / cfg.lidar_rate_hz
        stamp = _stamp(t)
        sweeps = []
        for g in range(g_key - cfg.sweeps_per_keyframe + 1, g_key):
            points, _, pose_g = self.sweep(g)
            sweeps.append(Sweep(points, pose_g, _stamp(g / cfg.lidar_rate_hz)))
        points, _, pose = self.sweep(g_key)
        cameras = self.cameras(stamp, pose) if cfg.enable_cameras else {}
        cabin, driver = self.cabin(stamp, pose) if cfg.enable_cabin else (None, None)
        annotations = Annotations(
            boxes=self.boxes(t, pose, points), bev_map=self.bev_map(pose),
            depth={name: cam.depth for name, cam in cameras.items() if cam.depth is not None}, driver=driver,
        )
        return Frame(token(self.scene, self.seed, index), self.scene, stamp, pose, Lidar(points, lidar_to_ego(), stamp),
                     cameras, cabin, annotations, sweeps)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _stamp(t: float) -> int:
    """Timestamp (whole microseconds) of simulation time ``t`` seconds."""
    return EPOCH_US + int(round(t * 1e6))


def _seconds(timestamp: int) -> float:
    """Simulation time (seconds) of a timestamp in microseconds."""
    return (timestamp - EPOCH_US) * 1e-6


def cabin_frame(driver: DriverScript, t: float, timestamp: int, size: tuple[int, int], seed: int) -> tuple[Camera, DriverLabels]:
    """Cabin camera image of the driver's state at time ``t`` and its labels."""
    state = driver.state(t)
    image = render_cabin(state, size, np.random.default_rng([seed, 19, timestamp]))
    k, cam_to_ego = cabin_camera(size)
    return Camera("CAM_CABIN", image, k, cam_to_ego, timestamp), state.labels()


def drive_simulator(config: SimConfig, seed: int, num_frames: int, scene_name: str = "scene-0061") -> DriveSimulator:
    """The simulator whose keyframes 0 .. ``num_frames`` - 1 :func:`simulate_drive` yields (its
    ``town`` gives the drive's map: :func:`sensors.sim.town_map.town_map`)."""
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    return DriveSimulator(config, seed, (num_frames + 1) / config.keyframe_rate_hz, scene_name)


def simulate_drive(config: SimConfig, seed: int, num_frames: int, scene_name: str = "scene-0061") -> Iterator[Frame]:
    """Yield ``num_frames`` keyframes (at ``config.keyframe_rate_hz``) of a seeded drive.

    Deterministic: the same (config, seed, num_frames, scene_name) gives identical frames.
    """
    sim = drive_simulator(config, seed, num_frames, scene_name)
    for index in range(num_frames):
        yield sim.keyframe(index)


def simulate_cabin_sequence(seed: int, duration_s: float, fps: float = 10.0,
                            size: tuple[int, int] = (240, 320)) -> Iterator[tuple[Camera, DriverLabels]]:
    """A driver-facing camera stream at ``fps`` for ``duration_s`` seconds with per-frame labels,
    from the same behaviour script and renderer as the cabin of :func:`simulate_drive`."""
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if duration_s < 0 or fps <= 0:
        raise ValueError(f"need duration_s >= 0 and fps > 0, got {duration_s}, {fps}")
    driver = DriverScript(int(seed))
    for i in range(int(math.floor(duration_s * fps + 1e-9))):
        t = i / fps
        yield cabin_frame(driver, t, _stamp(t), size, int(seed))
