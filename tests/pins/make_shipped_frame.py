"""Write tests/pins/shipped_frame.npz: one simulated validation keyframe, stored as the sensor data a
reader would give (camera images with calibration, LiDAR points, cabin image), so that the shipped
checkpoint's pinned outputs do not move when the simulator changes.

Run once from the repository root: ``python tests/pins/make_shipped_frame.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from perception.config import build_sim_config, load_config
from perception.inference.sources import SimulatedDrives

HERE = Path(__file__).resolve().parent


def main() -> None:
    config = load_config(HERE.parents[1] / "configs" / "tiny.yaml")
    d = config.data
    frame = SimulatedDrives(build_sim_config(d), d.seed + d.train_scenes, ["scene-0103"], 4)[2]
    arrays: dict[str, np.ndarray] = {
        "points": frame.lidar.points, "lidar_to_ego": frame.lidar.lidar_to_ego,
        "cabin_image": frame.cabin.image, "cabin_intrinsics": frame.cabin.intrinsics,
        "cabin_to_ego": frame.cabin.cam_to_ego,
        "camera_names": np.array(list(frame.cameras)), "ego_to_global": frame.ego_to_global,
        "timestamps": np.array([frame.timestamp, frame.lidar.timestamp, frame.cabin.timestamp], np.int64),
    }
    for name, cam in frame.cameras.items():
        arrays[f"{name}/image"] = cam.image
        arrays[f"{name}/intrinsics"] = cam.intrinsics
        arrays[f"{name}/cam_to_ego"] = cam.cam_to_ego
        arrays[f"{name}/timestamp"] = np.int64(cam.timestamp)
    np.savez_compressed(HERE / "shipped_frame.npz", **arrays)


if __name__ == "__main__":
    main()
