"""Hand-built frames and a small config for the model tests (imported by them and by conftest)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from perception.config import Config, ModelConfig, load_config
from perception.data import Batch, collate_frames, frame_to_sample
from sensors.boxes import Boxes3D
from sensors.classes import MAP_CLASSES
from sensors.frame import (
    Annotations,
    BevGrid,
    BevMap,
    Camera,
    DriverLabels,
    Frame,
    Lidar,
)
from sensors.geometry import make_transform, rotation_z

TINY = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"

#: Camera frame (x right, y down, z forward) -> ego (x forward, y left, z up), looking along +x.
_CAM_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def camera(name: str, yaw: float, h: int = 90, w: int = 160, rng: np.random.Generator | None = None) -> Camera:
    """A pinhole camera 1.5 m above the ground, looking horizontally at heading ``yaw``."""
    rng = rng or np.random.default_rng(0)
    k = np.array([[w * 0.6, 0.0, w / 2.0], [0.0, w * 0.6, h / 2.0], [0.0, 0.0, 1.0]])
    pose = make_transform(rotation_z(yaw) @ _CAM_AXES, [1.0, 0.0, 1.5])
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return Camera(name, image, k, pose, 0)


def make_frame(seed: int = 0, *, cameras: bool = True, lidar: bool = True, cabin: bool = True,
               street_labels: bool = True, driver_labels: bool = True) -> Frame:
    """A frame with two cameras, a LiDAR cloud with points on three boxes, a map and driver labels."""
    rng = np.random.default_rng(seed)
    boxes = Boxes3D(
        center=[[10.0, 3.0, 0.8], [-15.0, -6.0, 0.9], [20.0, -10.0, 0.5]],
        size=[[4.5, 1.9, 1.6], [10.0, 2.5, 3.0], [0.8, 0.7, 1.7]],
        yaw=[0.3, -1.2, 2.0],
        velocity=[[5.0, 0.5], [np.nan, np.nan], [1.0, -1.0]],
        label=[0, 1, 5],
    )
    ground = np.c_[rng.uniform(-30, 30, (2000, 2)), np.zeros(2000)]
    inside = []
    for c, s in zip(boxes.center, boxes.size):
        inside.append(c + rng.uniform(-0.5, 0.5, (200, 3)) * s)
    xyz = np.concatenate([ground, *inside])
    pts = np.c_[xyz, rng.uniform(0, 255, len(xyz)), np.zeros(len(xyz))].astype(np.float32)
    cams = {}
    if cameras:
        cams = {"CAM_FRONT": camera("CAM_FRONT", 0.0, rng=rng), "CAM_BACK": camera("CAM_BACK", np.pi, rng=rng)}
    grid = BevGrid(-50.0, 50.0, -50.0, 50.0, 0.5)
    layers = np.zeros((len(MAP_CLASSES), *grid.shape), bool)
    layers[0, :, 80:120] = True  # a road along x, |y| < 10 m
    layers[5, :, 99:101] = True
    driver = DriverLabels(0.9, 0, int(rng.integers(0, 8)), (10.0, -5.0, 2.0), bool(rng.integers(0, 2)))
    ann = Annotations(
        boxes=boxes if street_labels else None,
        bev_map=BevMap(layers, grid) if street_labels else None,
        driver=driver if driver_labels else None,
    )
    return Frame(
        token=f"f{seed}", scene="s", timestamp=seed * 500_000, ego_to_global=np.eye(4),
        lidar=Lidar(pts, np.eye(4), 0) if lidar else None,
        cameras=cams,
        cabin=camera("CABIN", np.pi, 64, 80, rng) if cabin else None,
        annotations=ann,
    )


def small_config() -> Config:
    """configs/tiny.yaml with the two test cameras, smaller images and a +-25.6 m BEV (64 x 64
    cells at the tiny 0.8 m resolution), so that the tests stay fast on a shared CPU."""
    config = load_config(TINY)
    model = config.model
    image = dataclasses.replace(model.image, height=64, width=128, cabin_height=64, cabin_width=64)
    grid = BevGrid(-25.6, 25.6, -25.6, 25.6, model.bev.grid.resolution)
    lidar = dataclasses.replace(model.lidar, point_range=(-25.6, -25.6, -5.0, 25.6, 25.6, 3.0))
    heads = dataclasses.replace(
        model.heads,
        segmentation=dataclasses.replace(model.heads.segmentation, grid=BevGrid(-25.0, 25.0, -25.0, 25.0, 1.0)),
    )
    model = dataclasses.replace(
        model, cameras=("CAM_FRONT", "CAM_BACK"), image=image, lidar=lidar, heads=heads,
        bev=dataclasses.replace(model.bev, grid=grid),
    )
    return dataclasses.replace(config, model=model)


def frames_batch(frames: list[Frame], config: ModelConfig) -> Batch:
    """Inputs and targets of ``frames`` as one training batch."""
    return collate_frames([frame_to_sample(f, config) for f in frames])
