"""Read a nuScenes v1.0 dataset (real or written by :mod:`sensors.nuscenes.writer`) as :class:`Frame` s.

Conversions at this boundary (docs/conventions.md):

* LiDAR: ``.pcd.bin`` points in the sensor frame -> ego frame at the key sweep; with ``sweeps=N``
  the N-1 sample_data before the key one on the LIDAR_TOP ``prev`` chain (as the devkit's
  ``from_file_multisweep``) are motion-compensated sweep sensor -> sweep ego -> global -> key ego;
  column 5 is the time offset sweep - key in seconds (<= 0); the ring index is dropped.
* Cameras: K from ``camera_intrinsic``; each camera fires at its own time (real nuScenes: 0-50 ms
  before the LiDAR), so ``cam_to_ego`` is its calibrated_sensor (ego at the camera time) carried
  into the ego frame at the LiDAR key sweep through the two ego poses
  (:func:`sensors.geometry.sensor_to_reference_ego`, the devkit's ``map_pointcloud_to_image``
  chain); ``Camera.ego_to_global`` is the camera's own ego pose. ``CAM_CABIN`` (our extra
  channel) becomes ``Frame.cabin``.
* Boxes: global -> ego at the LiDAR key frame; size ``w, l, h`` -> ``l, w, h``; yaw from the
  quaternion; velocity as the devkit's ``box_velocity`` (centre difference over the neighbouring
  annotations of the instance, at most 1.5 s apart or 3 s centred, else NaN), rotated into ego;
  categories outside the detection set are skipped; token = instance token.
* BEV map: rasterized from the map expansion of the scene's ``log.location``
  (``maps/expansion/<location>.json``, :mod:`sensors.nuscenes.map_expansion`: the devkit's
  ``get_map_mask`` rules) around the ego pose of the LiDAR key frame; a location without an
  expansion is said in one warning line (when its first map is asked for) and its frames get no map.
* Extras (depth, driver labels) come from the tables described in :mod:`sensors.nuscenes.layout`
  when present; on the real dataset they are absent (None / empty).

The reader needs plain ``json``, numpy and Pillow, and the devkit only to read a map expansion. Tables are loaded once;
files are read when a frame is requested.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import (
    ATTRIBUTES,
    EYE_STATES,
    GAZE_ZONES,
    NUSCENES_CATEGORY_TO_CLASS,
    class_index,
)
from sensors.errors import InvalidValueError, MissingDataError
from sensors.frame import (
    CAMERA_NAMES,
    Annotations,
    Camera,
    DriverLabels,
    Frame,
    FrameSequence,
    Lidar,
)
from sensors.geometry import (
    invert_transform,
    quaternion_to_matrix,
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
)
from sensors.nuscenes.map_expansion import ExpansionMaps
from sensors.nuscenes.splits import SPLITS, VERSION_SPLITS, version_of_split
from sensors.nuscenes.tables import NuScenesTables
from sensors.nuscenes.velocity import box_velocity
from sensors.projection import check_principal_point


def resolve_version(root: Path, split: str | None, version: str | None) -> str:
    """The dataset version to read: given, implied by the split, or the only one under ``root``."""
    if version is None and split is not None:
        version = version_of_split(split)
    if version is None:
        present = [v for v in VERSION_SPLITS if (root / v).is_dir()]
        if len(present) != 1:
            raise MissingDataError(root, f"found versions {present}; pass version= or split= to choose one")
        version = present[0]
    if version not in VERSION_SPLITS:
        raise ValueError(f"unknown nuScenes version {version!r}; expected one of {tuple(VERSION_SPLITS)}")
    if split is not None and split not in VERSION_SPLITS[version]:
        raise ValueError(f"split {split!r} is not a split of {version} (has {VERSION_SPLITS[version]})")
    if not (root / version).is_dir():
        raise MissingDataError(root / version, "nuScenes version folder is missing")
    return version


class NuScenesDataset(FrameSequence):
    """Key samples of a nuScenes dataset as frames, scene by scene in time order.

    Args:
        root: dataset root (holding ``v1.0-*/``, ``samples/``, ``sweeps/``).
        split: ``mini_train``, ``mini_val``, ``train``, ``val``, ``test`` or None (all scenes).
        version: ``v1.0-mini``, ``v1.0-trainval``, ``v1.0-test``; None: implied by ``split`` or the
            only version folder present.
        sweeps: LiDAR sweeps per frame (1 = key sweep only; nuScenes detectors often use 10).
        load_images: decode camera images; False leaves ``cameras`` empty and ``cabin`` None
            (LiDAR-only use, much faster).
    """

    def __init__(self, root: Path, split: str | None = None, version: str | None = None, sweeps: int = 1,
                 load_images: bool = True) -> None:
        if sweeps < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        self.root = Path(root)
        self.version = resolve_version(self.root, split, version)
        self.split = split
        self.sweeps = sweeps
        self.load_images = load_images
        self.tables = NuScenesTables(self.root / self.version, TABLES)
        self._channels = self._sensor_channels()
        self._key_data = self._key_sample_data()
        self._annotations = defaultdict(list)
        for row in self.tables.rows("sample_annotation"):
            self._annotations[self.tables.text("sample_annotation", row, "sample_token")].append(row)
        self._has_annotations = bool(self.tables.rows("sample_annotation"))
        self._depth = {self.tables.text(DEPTH_TABLE, r, "sample_data_token"): r for r in self.tables.optional(DEPTH_TABLE)}
        self._driver = {self.tables.text(DRIVER_TABLE, r, "sample_data_token"): r for r in self.tables.optional(DRIVER_TABLE)}
        self._samples = self._select_samples()
        self._locations = self._scene_locations()
        self._maps = ExpansionMaps(self.root)

    # -- indexing ------------------------------------------------------------------------------
    def _sensor_channels(self) -> dict[str, tuple[str, str]]:
        """calibrated_sensor token -> (channel, modality)."""
        out = {}
        for cs in self.tables.rows("calibrated_sensor"):
            sensor = self.tables.get("sensor", self.tables.text("calibrated_sensor", cs, "sensor_token"), cs["token"])
            out[cs["token"]] = (self.tables.text("sensor", sensor, "channel"), self.tables.text("sensor", sensor, "modality"))
        return out

    def _channel(self, sample_data: dict) -> tuple[str, str]:
        token = self.tables.text("sample_data", sample_data, "calibrated_sensor_token")
        if token not in self._channels:
            self.tables.get("calibrated_sensor", token, sample_data["token"])
        return self._channels[token]

    def _key_sample_data(self) -> dict[str, dict[str, dict]]:
        """sample token -> channel -> key-frame sample_data row."""
        out: dict[str, dict[str, dict]] = defaultdict(dict)
        for row in self.tables.rows("sample_data"):
            if self.tables.field("sample_data", row, "is_key_frame") is True:
                out[self.tables.text("sample_data", row, "sample_token")][self._channel(row)[0]] = row
        return out

    def _select_samples(self) -> list[tuple[str, str]]:
        """(sample token, scene name) of the selected scenes, walking each scene's sample chain."""
        wanted = None if self.split is None else set(SPLITS[self.split])
        samples = []
        for scene in self.tables.rows("scene"):
            name = self.tables.text("scene", scene, "name")
            if wanted is not None and name not in wanted:
                continue
            token = self.tables.text("scene", scene, "first_sample_token")
            count = 0
            while token:
                sample = self.tables.get("sample", token, f"scene {name}")
                samples.append((token, name))
                count += 1
                if count > len(self.tables.rows("sample")):
                    raise InvalidValueError(self.tables.path("sample"), f"scene {name}: sample chain loops")
                token = self.tables.text("sample", sample, "next")
        return samples

    def _scene_locations(self) -> dict[str, str]:
        """Scene name -> ``log.location`` of the selected scenes."""
        t = self.tables
        selected = {name for _, name in self._samples}
        out = {}
        for scene in t.rows("scene"):
            name = t.text("scene", scene, "name")
            if name in selected:
                log = t.get("log", t.text("scene", scene, "log_token"), f"scene {name}")
                out[name] = t.text("log", log, "location")
        return out

    def __len__(self) -> int:
        return len(self._samples)

    def read(self, index: int) -> Frame:
        """The frame of the ``index``-th sample (scene order, then time)."""
        token, scene = self._samples[index]
        try:
            return self._frame(token, scene)
        except (ValueError, TypeError) as error:
            raise InvalidValueError(self.tables.path("sample"), f"sample {token}: {error}") from None

    # -- frames --------------------------------------------------------------------------------
    def _frame(self, token: str, scene: str) -> Frame:
        t = self.tables
        sample = t.get("sample", token)
        data = self._key_data.get(token, {})
        if LIDAR_CHANNEL not in data:
            raise MissingDataError(t.path("sample_data"), f"sample {token} has no key {LIDAR_CHANNEL} sample_data")
        lidar_sd = data[LIDAR_CHANNEL]
        ego_to_global = self._ego_pose(lidar_sd)
        lidar = self._lidar(lidar_sd, ego_to_global)
        cameras: dict[str, Camera] = {}
        cabin = None
        depth: dict[str, np.ndarray] = {}
        driver = None
        if self.load_images:
            order = [c for c in CAMERA_NAMES if c in data] + sorted(c for c in data if c not in CAMERA_NAMES)
            for channel in order:
                if self._channel(data[channel])[1] != "camera":
                    continue
                camera = self._camera(data[channel], channel, ego_to_global)
                if camera.depth is not None:
                    depth[channel] = camera.depth
                if channel == CABIN_CHANNEL:
                    cabin = camera
                else:
                    cameras[channel] = camera
        if CABIN_CHANNEL in data and data[CABIN_CHANNEL]["token"] in self._driver:
            driver = self._driver_labels(self._driver[data[CABIN_CHANNEL]["token"]])
        boxes = self._boxes(token, ego_to_global) if self._has_annotations else None
        bev = self._maps.bev_map(self._locations[scene], ego_to_global)
        annotations = None
        if boxes is not None or bev is not None or depth or driver is not None:
            annotations = Annotations(boxes=boxes, bev_map=bev, depth=depth, driver=driver)
        return Frame(
            token=token, scene=scene, timestamp=t.integer("sample", sample, "timestamp"), ego_to_global=ego_to_global,
            lidar=lidar, cameras=cameras, cabin=cabin, annotations=annotations,
        )

    def _ego_pose(self, sample_data: dict) -> np.ndarray:
        pose = self.tables.get("ego_pose", self.tables.text("sample_data", sample_data, "ego_pose_token"), sample_data["token"])
        return self.tables.transform("ego_pose", pose)

    def _calibration(self, sample_data: dict) -> dict:
        token = self.tables.text("sample_data", sample_data, "calibrated_sensor_token")
        return self.tables.get("calibrated_sensor", token, sample_data["token"])

    def _file(self, sample_data: dict, key: str = "filename", table: str = "sample_data") -> Path:
        return self.root / self.tables.text(table, sample_data, key)

    def _lidar(self, key_sd: dict, ego_to_global: np.ndarray) -> Lidar:
        t = self.tables
        lidar_to_ego = t.transform("calibrated_sensor", self._calibration(key_sd))
        key_time = t.integer("sample_data", key_sd, "timestamp")
        parts = [self._sweep_points(key_sd, lidar_to_ego, 0.0)]
        sd = key_sd
        for _ in range(self.sweeps - 1):
            previous = t.text("sample_data", sd, "prev")
            if not previous:
                break
            sd = t.get("sample_data", previous, f"prev of {sd['token']}")
            sweep_to_key = sensor_to_reference_ego(
                t.transform("calibrated_sensor", self._calibration(sd)), self._ego_pose(sd), ego_to_global
            )
            offset = (t.integer("sample_data", sd, "timestamp") - key_time) * 1e-6
            parts.append(self._sweep_points(sd, sweep_to_key, offset))
        return Lidar(points=np.concatenate(parts), lidar_to_ego=lidar_to_ego, timestamp=key_time)

    def _sweep_points(self, sample_data: dict, sensor_to_key: np.ndarray, offset: float) -> np.ndarray:
        raw = files.read_points(self._file(sample_data))
        points = np.empty_like(raw)
        points[:, :3] = transform_points(sensor_to_key, raw[:, :3].astype(np.float64))
        points[:, 3] = raw[:, 3]
        points[:, 4] = offset
        return points

    def _camera(self, sample_data: dict, channel: str, reference_ego_to_global: np.ndarray) -> Camera:
        """The camera of ``sample_data``, placed in the ego frame at the reference (LiDAR) pose."""
        t = self.tables
        cs = self._calibration(sample_data)
        size = (t.integer("sample_data", sample_data, "height"), t.integer("sample_data", sample_data, "width"))
        image = files.read_image(self._file(sample_data), size)
        intrinsics = t.array("calibrated_sensor", cs, "camera_intrinsic", (3, 3))
        check_principal_point(size, intrinsics, self._file(sample_data))
        depth = None
        if sample_data["token"] in self._depth:
            depth = files.read_depth(self._file(self._depth[sample_data["token"]], table=DEPTH_TABLE), size)
        ego_to_global = self._ego_pose(sample_data)
        return Camera(
            name=channel, image=image, intrinsics=intrinsics,
            cam_to_ego=sensor_to_reference_ego(t.transform("calibrated_sensor", cs), ego_to_global, reference_ego_to_global),
            timestamp=t.integer("sample_data", sample_data, "timestamp"), depth=depth, ego_to_global=ego_to_global,
        )

    # -- annotations ---------------------------------------------------------------------------
    def _boxes(self, sample_token: str, ego_to_global: np.ndarray) -> Boxes3D:
        t = self.tables
        table = "sample_annotation"
        centers, sizes, headings, velocities, labels, attributes, counts, tokens = [], [], [], [], [], [], [], []
        for ann in self._annotations.get(sample_token, []):
            instance_token = t.text(table, ann, "instance_token")
            instance = t.get("instance", instance_token, ann["token"])
            category = t.get("category", t.text("instance", instance, "category_token"), instance_token)
            name = NUSCENES_CATEGORY_TO_CLASS.get(t.text("category", category, "name"))
            if name is None:
                continue
            width, length, height = t.array(table, ann, "size", (3,))
            if min(width, length, height) <= 0:
                raise InvalidValueError(t.path(table), f"row {ann['token']!r}: size {[width, length, height]} must be > 0")
            rotation = t.array(table, ann, "rotation", (4,))
            attribute = -1
            for attribute_token in t.field(table, ann, "attribute_tokens"):
                attribute_name = t.get("attribute", attribute_token, ann["token"]).get("name")
                if attribute_name in ATTRIBUTES:
                    attribute = ATTRIBUTES.index(attribute_name)
            centers.append(t.array(table, ann, "translation", (3,)))
            sizes.append((length, width, height))
            headings.append(quaternion_to_matrix(rotation)[:, 0])
            velocities.append(self._velocity(ann))
            labels.append(class_index(name))
            attributes.append(attribute)
            counts.append(t.integer(table, ann, "num_lidar_pts"))
            tokens.append(instance_token)
        if not centers:
            return Boxes3D.empty()
        # Global -> ego: rotate the full 3D heading and velocity (exact also for a pitched ego).
        global_to_ego = invert_transform(ego_to_global)
        heading = np.array(headings) @ global_to_ego[:3, :3].T
        velocity = np.array(velocities) @ global_to_ego[:3, :3].T
        return Boxes3D(
            transform_points(global_to_ego, np.array(centers)), np.array(sizes),
            np.arctan2(heading[:, 1], heading[:, 0]), velocity[:, :2], np.array(labels),
            attribute=np.array(attributes), num_lidar_points=np.array(counts), token=tokens,
        )

    def _velocity(self, ann: dict) -> np.ndarray:
        """Global velocity (3,) m/s of an annotation by :func:`sensors.nuscenes.velocity.box_velocity`; NaN if none."""
        t = self.tables
        table = "sample_annotation"
        previous, following = t.text(table, ann, "prev"), t.text(table, ann, "next")
        if not previous and not following:
            return np.full(3, np.nan)
        first = t.get(table, previous, ann["token"]) if previous else ann
        last = t.get(table, following, ann["token"]) if following else ann

        def seconds(row: dict) -> float:
            sample = t.get("sample", t.text(table, row, "sample_token"), row["token"])
            return 1e-6 * t.integer("sample", sample, "timestamp")

        time_diff = seconds(last) - seconds(first)
        if time_diff <= 0:
            raise InvalidValueError(t.path(table), f"row {ann['token']!r}: neighbouring annotations are not in time order")
        first_xyz, last_xyz = t.array(table, first, "translation", (3,)), t.array(table, last, "translation", (3,))
        return box_velocity(first_xyz[None], last_xyz[None], np.array([time_diff]), np.array([bool(previous)]),
                            np.array([bool(following)]))[0]

    def _driver_labels(self, row: dict) -> DriverLabels:
        t = self.tables
        try:
            eye_state, zone, pose = (t.field(DRIVER_TABLE, row, k) for k in ("eye_state", "gaze_zone", "head_pose"))
            openness, phone = t.field(DRIVER_TABLE, row, "eye_openness"), t.field(DRIVER_TABLE, row, "phone")
            return DriverLabels(
                eye_openness=None if openness is None else float(openness),
                eye_state=None if eye_state is None else EYE_STATES.index(eye_state),
                gaze_zone=None if zone is None else GAZE_ZONES.index(zone),
                head_pose=None if pose is None else tuple(t.array(DRIVER_TABLE, row, "head_pose", (3,))),
                phone=None if phone is None else phone is True,
                looking_at_road=row.get("looking_at_road"),
            )
        except (ValueError, TypeError) as error:
            raise InvalidValueError(t.path(DRIVER_TABLE), f"row {row.get('sample_data_token')!r}: {error}") from None
