"""Hand-built frames of a small drive with known world geometry, and the nuScenes copy of them."""
from __future__ import annotations

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import ATTRIBUTES, MAP_CLASSES, class_index
from sensors.frame import (
    Annotations,
    BevGrid,
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
    transform_points,
)

SCENE = "scene-0061"  # official mini_train scene
T0 = 1_532_402_927_000_000  # microseconds
KEY_PERIOD = 500_000
SWEEP_PERIOD = 50_000
SIZE = (24, 32)  # camera image H, W
GRID = BevGrid(-8.0, 8.0, -4.0, 4.0, 1.0)

# Moving objects in the global frame: centre(t) = start + velocity * t (t in seconds from T0).
TRACKS = {
    "car-1": dict(label="car", start=(30.0, 22.0, 0.9), velocity=(8.0, 0.5, 0.0), yaw=0.06, size=(4.5, 1.9, 1.7),
                  attribute="vehicle.moving"),
    "ped-7": dict(label="pedestrian", start=(18.0, 25.0, 0.9), velocity=(0.0, -1.2, 0.0), yaw=-1.5,
                  size=(0.7, 0.6, 1.8), attribute="pedestrian.moving"),
}


def ego_pose(t: float) -> np.ndarray:
    """Ego-to-global pose at time t (s): driving along a gentle curve, slightly pitched."""
    pitch = np.array([[np.cos(0.02), 0, np.sin(0.02)], [0, 1, 0], [-np.sin(0.02), 0, np.cos(0.02)]])
    return make_transform(rotation_z(0.3 + 0.1 * t) @ pitch, [10.0 + 5.0 * t, 20.0 + 1.0 * t, 0.1])


LIDAR_TO_EGO = make_transform(rotation_z(-np.pi / 2), [0.94, 0.0, 1.84])
CAM_TO_EGO = {
    "CAM_FRONT": make_transform(np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float), [1.7, 0.0, 1.5]),
    "CAM_BACK": make_transform(np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float), [-1.0, 0.0, 1.5]),
}
CABIN_TO_EGO = make_transform(np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float), [1.2, 0.4, 1.3])
K = np.array([[20.0, 0, 16.0], [0, 20.0, 12.0], [0, 0, 1]])


def world_points(seed: int = 0) -> np.ndarray:
    """Static world points (N, 4): global x, y, z and intensity."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0, 0, 0], [60, 45, 3], size=(300, 3))
    return np.column_stack([xyz, rng.integers(0, 256, 300).astype(float)])


def ego_points(t: float, world: np.ndarray) -> np.ndarray:
    """The world points seen from the ego pose at t: (N, 5) ego x, y, z, intensity, 0."""
    local = transform_points(invert_transform(ego_pose(t)), world[:, :3])
    return np.column_stack([local, world[:, 3], np.zeros(len(world))]).astype(np.float32)


def boxes_at(t: float, tracks: list[str]) -> Boxes3D:
    """Ego-frame boxes of ``tracks`` at time t."""
    pose = ego_pose(t)
    centers, yaws = [], []
    for name in tracks:
        spec = TRACKS[name]
        centers.append(np.add(spec["start"], np.multiply(spec["velocity"], t)))
        yaws.append(spec["yaw"])
    glob = Boxes3D(
        np.array(centers), np.array([TRACKS[n]["size"] for n in tracks]), np.array(yaws),
        np.array([TRACKS[n]["velocity"][:2] for n in tracks]),
        np.array([class_index(TRACKS[n]["label"]) for n in tracks]),
        attribute=np.array([ATTRIBUTES.index(TRACKS[n]["attribute"]) for n in tracks]),
        num_lidar_points=np.array([12, -1][: len(tracks)]), token=list(tracks),
    )
    return glob.transform(invert_transform(pose))


def image(rng: np.random.Generator) -> np.ndarray:
    """A smooth RGB image (JPEG keeps it within a few grey levels)."""
    yy, xx = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    base = rng.uniform(40, 200, 3)
    return np.clip(base[None, None] + 2.0 * xx[..., None] + 1.0 * yy[..., None], 0, 255).astype(np.uint8)


def make_frames(n: int = 3, scene: str = SCENE) -> list[Frame]:
    """``n`` key frames at 2 Hz with two sweeps each, two cameras, cabin, boxes, BEV map, depth, driver."""
    rng = np.random.default_rng(1)
    world = world_points()
    frames = []
    for i in range(n):
        stamp = T0 + i * KEY_PERIOD
        t = (stamp - T0) * 1e-6
        sweeps = [
            Sweep(ego_points((stamp - k * SWEEP_PERIOD - T0) * 1e-6, world), ego_pose((stamp - k * SWEEP_PERIOD - T0) * 1e-6),
                  stamp - k * SWEEP_PERIOD)
            for k in (2, 1)
        ]
        cameras = {
            name: Camera(name, image(rng), K, pose, stamp + 10_000 * j, depth=rng.uniform(0, 80, SIZE).astype(np.float32))
            for j, (name, pose) in enumerate(CAM_TO_EGO.items())
        }
        cabin = Camera("CABIN", np.repeat(image(rng)[..., :1], 3, axis=2), K, CABIN_TO_EGO, stamp + 5_000)
        tracks = ["car-1", "ped-7"] if i < n - 1 else ["car-1"]
        layers = rng.random((len(MAP_CLASSES), *GRID.shape)) < 0.3
        annotations = Annotations(
            boxes=boxes_at(t, tracks), bev_map=BevMap(layers, GRID),
            driver=DriverLabels(0.1 * i, i % 2, i, (1.0 * i, -2.0, 0.5), i == 1),
        )
        frames.append(Frame(
            token=f"frame-{i}", scene=scene, timestamp=stamp, ego_to_global=ego_pose(t),
            lidar=Lidar(ego_points(t, world), LIDAR_TO_EGO, stamp), cameras=cameras, cabin=cabin,
            annotations=annotations, sweeps=sweeps,
        ))
    return frames
