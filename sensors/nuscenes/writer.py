"""Write :class:`sensors.Frame` sequences in the nuScenes v1.0 layout.

Output (``root``):

* ``<version>/*.json``: the 13 official tables, loadable by nuscenes-devkit 1.2.0, plus the extra
  tables described in :mod:`sensors.nuscenes.layout` (depth, driver labels);
* ``samples/LIDAR_TOP/*.pcd.bin`` (key sweeps) and ``sweeps/LIDAR_TOP/*.pcd.bin`` (``Frame.sweeps``):
  x, y, z in the **LiDAR sensor frame**, intensity, ring index;
* ``samples/CAM_*/*.jpg`` for the surround cameras and ``samples/CAM_CABIN/*.jpg`` for the cabin;
* ``maps/expansion/<location>.json``: the map expansion of the drives' worlds (``maps=``; see
  :func:`write_nuscenes`), read by the devkit's ``NuScenesMap`` and by our reader for the BEV map
  ground truth; ``maps/<token>.png``: the map table's semantic prior (a 1x1 placeholder the devkit
  requires); ``depth/``.

Conventions: frames are grouped into scenes by ``Frame.scene`` (official scene names of the
version, so the devkit split lists apply) and sorted by timestamp; sample_annotation boxes are
in the global frame with size ``w, l, h`` and quaternions ``(w, x, y, z)``; instances are chained by
``Boxes3D.token`` so that the devkit derives velocities (``Boxes3D.velocity`` is not stored, as in
nuScenes). A camera that fired at its own time gets its own ego_pose record
(``Camera.ego_to_global``; the frame's pose when None) and its calibrated_sensor is its mounting
in the ego frame at that time (``Camera.cam_to_ego``, given at the LiDAR time, carried back by
:func:`sensors.geometry.sensor_to_reference_ego`), so that the devkit's chain and our reader
recover ``cam_to_ego``; mountings of one channel equal within :data:`CALIBRATION_TOLERANCE` share
one calibrated_sensor row, as on the real car. The LiDAR time-offset column is not
stored (nuScenes has none); the fifth column is the ring index estimated from the elevation
angle with the HDL-32E beam spacing. The whole dataset is written to a temporary folder and
renamed into place, so an error leaves no half-written dataset.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from sensors.atomic import atomic_dir, check_output_dir
from sensors.boxes import Boxes3D
from sensors.classes import (
    ATTRIBUTES,
    CLASS_TO_NUSCENES_CATEGORY,
    DETECTION_CLASSES,
    EYE_STATES,
    GAZE_ZONES,
)
from sensors.frame import CAMERA_NAMES, Camera, Frame
from sensors.geometry import (
    invert_transform,
    matrix_to_quaternion,
    rotation_z,
    sensor_to_reference_ego,
    transform_points,
)
from sensors.nuscenes import files
from sensors.nuscenes.layout import (
    CABIN_CHANNEL,
    DEPTH_TABLE,
    DRIVER_TABLE,
    LIDAR_CHANNEL,
    TABLES,
    VISIBILITY,
)
from sensors.nuscenes.map_expansion import MapGeometry, write_map_expansion
from sensors.nuscenes.splits import scenes_of_version
from sensors.nuscenes.tokens import instance_token, make_token, sample_token

#: HDL-32E: 32 beams from -30.67 to +10.67 degrees elevation, evenly spaced.
_RING_LOWEST_DEG = -30.67
_RING_STEP_DEG = (10.67 + 30.67) / 31
#: Visibility written for every annotation: the simulator does not label occlusion per box.
_DEFAULT_VISIBILITY = "4"
#: Log location of drives written without a map (no map expansion exists for it).
NO_MAP_LOCATION = "simulated"
#: Log location of drives written with their maps (one the devkit's NuScenesMap accepts).
MAP_LOCATION = "boston-seaport"
#: Scene k of a dataset written with maps is moved by k times this far (m) along global y, so
#: that the worlds of different drives share one location's map without overlapping.
SCENE_SPACING = 1000.0
#: Sensor mountings (4x4 entries: rotation and metres) of one channel closer than this share a
#: calibrated_sensor row (a camera's mounting recovered through two ego poses differs by rounding).
CALIBRATION_TOLERANCE = 1e-8


def write_nuscenes(frames: Iterable[Frame], root: Path, version: str = "v1.0-mini",
                   maps: Mapping[str, MapGeometry] | None = None) -> None:
    """Write ``frames`` as a nuScenes dataset of ``version`` under ``root``.

    Args:
        frames: key frames (2 Hz in real nuScenes) with a LiDAR sweep each; ``Frame.sweeps`` are
            written as non-key LIDAR_TOP sweeps; ``Frame.scene`` must be an official scene name of
            ``version`` (e.g. ``scene-0061`` for ``v1.0-mini``). ``Annotations.bev_map`` rasters
            are not stored (nuScenes has none: the map comes from ``maps``).
        root: dataset root; replaced if it already holds a nuScenes dataset, refused if it holds
            anything else.
        version: ``v1.0-mini``, ``v1.0-trainval`` or ``v1.0-test``.
        maps: scene name -> the map of that scene's world in its global frame (e.g.
            :func:`sensors.sim.town_map.town_map`), written as the map expansion of
            :data:`MAP_LOCATION`, where every log is; scene k (in order of first appearance) and its
            map are moved by ``(0, k * SCENE_SPACING)`` m in the global frame (ego poses and
            everything placed by them), so that the worlds of different scenes do not overlap.
            None: no map (log location :data:`NO_MAP_LOCATION`; readers find no map ground truth).

    Raises:
        ValueError: unknown version or scene name, frames without LiDAR, duplicate tokens or
            timestamps, inconsistent instance categories, a scene without its map.
        FileExistsError: ``root`` is a file, or a folder that is neither empty nor a nuScenes
            dataset (checked before the frames are consumed).
        OSError: ``root`` cannot be written (the message names it); nothing is left behind.
    """
    root = Path(root)
    check_output_dir(root, is_nuscenes_root, "nuScenes dataset folder")
    scenes = _group_by_scene(list(frames), version)
    geometry = None
    if maps is not None:
        missing = sorted(set(scenes) - set(maps))
        if missing:
            raise ValueError(f"maps: no map for scene(s) {missing}")
        offsets = {name: np.array([0.0, k * SCENE_SPACING, 0.0]) for k, name in enumerate(scenes)}
        scenes = {name: [_moved(f, offsets[name]) for f in group] for name, group in scenes.items()}
        geometry = MapGeometry.merge([maps[name].translated(offsets[name][:2]) for name in scenes])
    with atomic_dir(root, what="nuScenes dataset folder") as temp:  # root checked above
        temp.mkdir()
        location = NO_MAP_LOCATION if geometry is None else MAP_LOCATION
        tables = _DatasetBuilder(temp, version, location).build(scenes)
        table_dir = temp / version
        table_dir.mkdir(parents=True, exist_ok=True)
        for name, rows in tables.items():
            (table_dir / f"{name}.json").write_text(json.dumps(rows, indent=0))
        if geometry is not None:
            write_map_expansion(temp, location, geometry)


def _moved(frame: Frame, offset: np.ndarray) -> Frame:
    """``frame`` with its world moved by ``offset`` (3,) metres: every pose in the global frame."""
    move = np.eye(4)
    move[:3, 3] = offset

    def camera(c: Camera | None) -> Camera | None:
        if c is None or c.ego_to_global is None:
            return c
        return dataclasses.replace(c, ego_to_global=move @ c.ego_to_global)

    return dataclasses.replace(
        frame, ego_to_global=move @ frame.ego_to_global,
        sweeps=[dataclasses.replace(s, ego_to_global=move @ s.ego_to_global) for s in frame.sweeps],
        cameras={name: camera(c) for name, c in frame.cameras.items()}, cabin=camera(frame.cabin),
    )


def _group_by_scene(frames: list[Frame], version: str) -> dict[str, list[Frame]]:
    """Frames per scene name (in order of first appearance), each sorted by timestamp; validated."""
    official = scenes_of_version(version)
    if not frames:
        raise ValueError("no frames to write")
    scenes: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        if frame.scene not in official:
            raise ValueError(
                f"frame {frame.token}: scene {frame.scene!r} is not an official {version} scene name "
                f"(e.g. {sorted(official)[:3]}); the devkit's split lists select scenes by name"
            )
        if frame.lidar is None:
            raise ValueError(f"frame {frame.token}: nuScenes samples need a {LIDAR_CHANNEL} sweep")
        scenes[frame.scene].append(frame)
    tokens: set[str] = set()
    for name, group in scenes.items():
        group.sort(key=lambda f: f.timestamp)
        stamps = [f.timestamp for f in group]
        if len(set(stamps)) != len(stamps):
            raise ValueError(f"scene {name}: two frames share a timestamp")
        for frame in group:
            token = sample_token(name, frame.token)
            if token in tokens:
                raise ValueError(f"frame {frame.token}: duplicate sample token")
            tokens.add(token)
    return dict(scenes)


def is_nuscenes_root(root: Path) -> bool:
    """Whether the folder ``root`` holds a nuScenes dataset (a ``v1.0-*`` version folder)."""
    return any(e.name.startswith("v1.0-") for e in root.iterdir())


def _ring_index(points_sensor: np.ndarray) -> np.ndarray:
    """Beam (ring) index 0-31 from the elevation angle of sensor-frame points."""
    xyz = points_sensor[:, :3].astype(np.float64)
    elevation = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    return np.clip(np.round((elevation - _RING_LOWEST_DEG) / _RING_STEP_DEG), 0, 31)


def _to_sensor_file(points_ego: np.ndarray, ego_to_sensor: np.ndarray) -> np.ndarray:
    """(N, 5) float32 nuScenes point rows (sensor-frame xyz, intensity, ring) of ego-frame points."""
    xyz = transform_points(ego_to_sensor, points_ego[:, :3].astype(np.float64))
    out = np.empty((len(points_ego), 5), np.float32)
    out[:, :3] = xyz
    out[:, 3] = points_ego[:, 3]
    out[:, 4] = _ring_index(xyz)
    return out


def _quaternion(rotation: np.ndarray) -> list[float]:
    return [float(v) for v in matrix_to_quaternion(rotation)]


def _vector(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


class _DatasetBuilder:
    """Accumulates table rows while writing the sample files into ``root``."""

    def __init__(self, root: Path, version: str, location: str) -> None:
        self.root = root
        self.version = version
        self.location = location
        self.rows: dict[str, list[dict]] = {name: [] for name in (*TABLES, DEPTH_TABLE, DRIVER_TABLE)}
        self._calibrations: dict[str, dict] = {}
        self._sensors: dict[str, dict] = {}
        #: channel -> (sensor_to_ego, intrinsics, calibrated_sensor token) already written.
        self._mountings: dict[str, list[tuple[np.ndarray, np.ndarray | None, str]]] = defaultdict(list)
        self._chains: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self._instances: dict[str, list[dict]] = defaultdict(list)
        self._instance_category: dict[str, str] = {}
        self._sample_data_tokens: set[str] = set()

    def build(self, scenes: dict[str, list[Frame]]) -> dict[str, list[dict]]:
        self._static_tables()
        for name, frames in scenes.items():
            self._scene(name, frames)
        for chain in self._chains.values():
            _link(sorted(chain, key=lambda r: r["timestamp"]))
        self._instance_table()
        self.rows["calibrated_sensor"] = list(self._calibrations.values())
        self.rows["sensor"] = list(self._sensors.values())
        self._map_table()
        return self.rows

    # -- fixed vocabularies -------------------------------------------------------------------
    def _static_tables(self) -> None:
        for index, cls in enumerate(DETECTION_CLASSES):
            category = CLASS_TO_NUSCENES_CATEGORY[cls]
            self.rows["category"].append(
                {"token": make_token("category", category), "name": category,
                 "description": f"{cls} (detection class)", "index": index}
            )
        for name in ATTRIBUTES:
            self.rows["attribute"].append({"token": make_token("attribute", name), "name": name, "description": name})
        for token, level, description in VISIBILITY:
            self.rows["visibility"].append({"token": token, "level": level, "description": description})

    def _map_table(self) -> None:
        token = make_token("map", self.version)
        filename = f"maps/{token}.png"
        files.write_placeholder_png(self.root / filename)
        self.rows["map"].append(
            {"token": token, "category": "semantic_prior", "filename": filename,
             "log_tokens": [log["token"] for log in self.rows["log"]]}
        )

    # -- scenes and samples -------------------------------------------------------------------
    def _scene(self, name: str, frames: list[Frame]) -> None:
        log_token = make_token("log", name)
        logfile = f"sim-{name}"
        date = datetime.datetime.fromtimestamp(frames[0].timestamp / 1e6, datetime.timezone.utc).strftime("%Y-%m-%d")
        self.rows["log"].append(
            {"token": log_token, "logfile": logfile, "vehicle": "sim", "date_captured": date, "location": self.location}
        )
        scene_token = make_token("scene", name)
        samples = []
        for frame in frames:
            samples.append(self._sample(frame, scene_token, logfile))
        _link(samples)
        self.rows["sample"].extend(samples)
        self.rows["scene"].append(
            {"token": scene_token, "log_token": log_token, "nbr_samples": len(samples),
             "first_sample_token": samples[0]["token"], "last_sample_token": samples[-1]["token"],
             "name": name, "description": "simulated drive"}
        )

    def _sample(self, frame: Frame, scene_token: str, logfile: str) -> dict:
        token = sample_token(frame.scene, frame.token)
        assert frame.lidar is not None
        lidar_to_ego = frame.lidar.lidar_to_ego
        ego_to_lidar = invert_transform(lidar_to_ego)
        lidar_cs = self._calibration(LIDAR_CHANNEL, "lidar", lidar_to_ego, None)
        for sweep in frame.sweeps:
            if sweep.timestamp >= frame.lidar.timestamp:
                raise ValueError(f"frame {frame.token}: sweep at {sweep.timestamp} us is not before the key sweep")
            self._sample_data(
                token, frame.scene, LIDAR_CHANNEL, sweep.timestamp, sweep.ego_to_global, lidar_cs, False,
                f"sweeps/{LIDAR_CHANNEL}/{logfile}__{LIDAR_CHANNEL}__{sweep.timestamp}.pcd.bin",
                lambda path, pts=sweep.points: files.write_points(path, _to_sensor_file(pts, ego_to_lidar)),
            )
        self._sample_data(
            token, frame.scene, LIDAR_CHANNEL, frame.lidar.timestamp, frame.ego_to_global, lidar_cs, True,
            f"samples/{LIDAR_CHANNEL}/{logfile}__{LIDAR_CHANNEL}__{frame.lidar.timestamp}.pcd.bin",
            lambda path: files.write_points(path, _to_sensor_file(frame.lidar.points, ego_to_lidar)),  # type: ignore[union-attr]
        )
        cameras = list(frame.cameras.values()) + ([frame.cabin] if frame.cabin is not None else [])
        for camera in cameras:
            self._camera(frame, token, camera, logfile)
        if frame.annotations is not None:
            if frame.annotations.boxes is not None:
                self._annotations(frame, token, frame.annotations.boxes)
        return {"token": token, "timestamp": frame.timestamp, "scene_token": scene_token, "prev": "", "next": ""}

    def _camera(self, frame: Frame, sample: str, camera: Camera, logfile: str) -> None:
        channel = CABIN_CHANNEL if camera is frame.cabin else camera.name
        if camera is not frame.cabin and channel not in CAMERA_NAMES:
            raise ValueError(f"frame {frame.token}: camera {channel!r} is not a nuScenes camera channel {CAMERA_NAMES}")
        ego_to_global = frame.ego_to_global if camera.ego_to_global is None else camera.ego_to_global
        # cam_to_ego is in the ego frame at the LiDAR time; nuScenes stores the mounting in the ego
        # frame at the camera's own time: the same motion compensation towards the camera's pose.
        mounting = sensor_to_reference_ego(camera.cam_to_ego, frame.ego_to_global, ego_to_global)
        cs = self._calibration(channel, "camera", mounting, camera.intrinsics)
        filename = f"samples/{channel}/{logfile}__{channel}__{camera.timestamp}.jpg"
        record = self._sample_data(
            sample, frame.scene, channel, camera.timestamp, ego_to_global, cs, True, filename,
            lambda path: files.write_image(path, camera.image), height=camera.height, width=camera.width,
        )
        annotations = frame.annotations
        depth = annotations.depth.get(channel) if annotations is not None else None
        depth = camera.depth if depth is None else depth
        if depth is not None:
            depth_file = f"depth/{channel}/{Path(filename).stem}.png"
            files.write_depth(self.root / depth_file, depth)
            self.rows[DEPTH_TABLE].append({"sample_data_token": record["token"], "filename": depth_file})
        if channel == CABIN_CHANNEL and annotations is not None and annotations.driver is not None:
            driver = annotations.driver
            self.rows[DRIVER_TABLE].append(
                {"sample_data_token": record["token"], "eye_openness": driver.eye_openness,
                 "eye_state": None if driver.eye_state is None else EYE_STATES[driver.eye_state],
                 "gaze_zone": None if driver.gaze_zone is None else GAZE_ZONES[driver.gaze_zone],
                 "head_pose": None if driver.head_pose is None else list(driver.head_pose), "phone": driver.phone,
                 "looking_at_road": driver.looking_at_road}
            )

    def _sample_data(self, sample: str, scene: str, channel: str, timestamp: int, ego_to_global: np.ndarray,
                     calibration: str, key: bool, filename: str, write, height: int = 0, width: int = 0) -> dict:
        token = make_token("sample_data", scene, channel, timestamp)
        if token in self._sample_data_tokens:
            raise ValueError(f"scene {scene}: two {channel} recordings at the same timestamp {timestamp} us")
        self._sample_data_tokens.add(token)
        write(self.root / filename)
        self.rows["ego_pose"].append(
            {"token": token, "timestamp": timestamp, "rotation": _quaternion(ego_to_global[:3, :3]),
             "translation": _vector(ego_to_global[:3, 3])}
        )
        record = {
            "token": token, "sample_token": sample, "ego_pose_token": token, "calibrated_sensor_token": calibration,
            "timestamp": timestamp, "fileformat": "pcd" if filename.endswith(".pcd.bin") else "jpg",
            "is_key_frame": key, "height": height, "width": width, "filename": filename, "prev": "", "next": "",
        }
        self.rows["sample_data"].append(record)
        self._chains[(scene, channel)].append(record)
        return record

    def _calibration(self, channel: str, modality: str, sensor_to_ego: np.ndarray, intrinsics: np.ndarray | None) -> str:
        sensor = self._sensors.setdefault(
            channel, {"token": make_token("sensor", channel), "channel": channel, "modality": modality}
        )
        for matrix, known_intrinsics, known in self._mountings[channel]:
            same_intrinsics = (intrinsics is None) == (known_intrinsics is None) and (
                intrinsics is None or np.array_equal(intrinsics, known_intrinsics))
            if same_intrinsics and np.abs(matrix - sensor_to_ego).max() < CALIBRATION_TOLERANCE:
                return known
        record = {
            "sensor_token": sensor["token"], "translation": _vector(sensor_to_ego[:3, 3]),
            "rotation": _quaternion(sensor_to_ego[:3, :3]),
            "camera_intrinsic": [] if intrinsics is None else [_vector(row) for row in intrinsics],
        }
        token = make_token("calibrated_sensor", json.dumps(record, sort_keys=True))
        self._calibrations.setdefault(token, {"token": token, **record})
        self._mountings[channel].append((np.array(sensor_to_ego), intrinsics, token))
        return token

    # -- annotations ----------------------------------------------------------------------------
    def _annotations(self, frame: Frame, sample: str, boxes: Boxes3D) -> None:
        rotation = frame.ego_to_global[:3, :3]
        centers = transform_points(frame.ego_to_global, boxes.center)
        counts = boxes.num_lidar_points.copy()
        unknown = counts < 0
        if unknown.any():
            inside = boxes.select(unknown).points_inside(frame.lidar.points)  # type: ignore[union-attr]
            counts[unknown] = inside.sum(axis=1)
        seen: set[str] = set()
        for i in range(len(boxes)):
            track = boxes.token[i] if boxes.token is not None else f"{frame.token}/box{i}"
            instance = instance_token(frame.scene, track)
            if instance in seen:
                raise ValueError(f"frame {frame.token}: track {track!r} appears twice")
            seen.add(instance)
            category = CLASS_TO_NUSCENES_CATEGORY[DETECTION_CLASSES[boxes.label[i]]]
            if self._instance_category.setdefault(instance, category) != category:
                raise ValueError(f"frame {frame.token}: track {track!r} changes category to {category}")
            attribute = int(boxes.attribute[i])
            length, width, height = boxes.size[i]
            record = {
                "token": make_token("sample_annotation", sample, instance), "sample_token": sample,
                "instance_token": instance, "visibility_token": _DEFAULT_VISIBILITY,
                "attribute_tokens": [make_token("attribute", ATTRIBUTES[attribute])] if attribute >= 0 else [],
                "translation": _vector(centers[i]), "size": [float(width), float(length), float(height)],
                "rotation": _quaternion(rotation @ rotation_z(boxes.yaw[i])), "prev": "", "next": "",
                "num_lidar_pts": int(counts[i]), "num_radar_pts": 0,
            }
            self.rows["sample_annotation"].append(record)
            self._instances[instance].append(record)

    def _instance_table(self) -> None:
        for instance, chain in self._instances.items():
            _link(chain)
            self.rows["instance"].append(
                {"token": instance, "category_token": make_token("category", self._instance_category[instance]),
                 "nbr_annotations": len(chain), "first_annotation_token": chain[0]["token"],
                 "last_annotation_token": chain[-1]["token"]}
            )


def _link(records: list[dict]) -> None:
    """Set ``prev``/``next`` tokens of records already in time order."""
    for before, after in zip(records, records[1:]):
        before["next"] = after["token"]
        after["prev"] = before["token"]
