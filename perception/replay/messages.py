"""Foxglove messages (the SDK's protobuf schemas) of one replayed frame and its predictions.

Pure conversions, no I/O: :mod:`perception.replay.foxglove_sink` logs what these return.
Frames follow ``docs/conventions.md``: the ego frame is published as ``base_link`` (x forward,
y left, z up), its pose in the world as ``map`` -> ``base_link``; each camera is a frame of its
own name (x right, y down, z forward, as Foxglove's camera frames); LiDAR points are already in
the ego frame at the LiDAR time. Times are integer microseconds in, nanoseconds out.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from foxglove.messages import (
    CameraCalibration,
    Color,
    CompressedImage,
    CubePrimitive,
    FrameTransform,
    FrameTransforms,
    Grid,
    ImageAnnotations,
    KeyValuePair,
    PackedElementField,
    PackedElementFieldNumericType,
    Point2,
    PointCloud,
    PointsAnnotation,
    PointsAnnotationType,
    Pose,
    Quaternion,
    RawImage,
    SceneEntity,
    SceneEntityDeletion,
    SceneEntityDeletionType,
    SceneUpdate,
    TextAnnotation,
    TextPrimitive,
    Timestamp,
    Vector2,
    Vector3,
)

from sensors.boxes import Boxes3D
from sensors.classes import DETECTION_CLASSES
from sensors.drawing import CLASS_COLORS
from sensors.frame import BevGrid, Camera, Frame, Lidar
from sensors.geometry import matrix_to_quaternion, yaw_to_quaternion
from sensors.projection import project_boxes

#: Frame id of the world (the recording's ``map``) and of the ego vehicle.
MAP_FRAME = "map"
EGO_FRAME = "base_link"
#: Colour of ground-truth boxes (RGB 0-255), as in the evaluation pictures.
GT_COLOR = (60, 220, 60)
#: Box edges as corner index pairs (corner order of ``Boxes3D.corners``).
BOX_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                                          (0, 4), (1, 5), (2, 6), (3, 7))
#: PointCloud fields: x, y, z (m, ego frame), intensity (0-255), time (s relative to the LiDAR time).
POINT_FIELDS: tuple[str, ...] = ("x", "y", "z", "intensity", "time")
_F32 = PackedElementFieldNumericType.Float32


def to_ns(timestamp_us: int) -> int:
    """Nanoseconds of a time in integer microseconds."""
    return int(timestamp_us) * 1000


def stamp(timestamp_us: int) -> Timestamp:
    """Foxglove timestamp of a time in integer microseconds."""
    sec, usec = divmod(int(timestamp_us), 1_000_000)
    return Timestamp(sec, usec * 1000)


def color(rgb: Sequence[int], alpha: float = 1.0) -> Color:
    """Foxglove colour of an RGB 0-255 triple."""
    return Color(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=alpha)


def class_color(label: int) -> tuple[int, int, int]:
    """RGB 0-255 colour of detection class index ``label`` (the evaluation pictures' palette)."""
    return CLASS_COLORS[DETECTION_CLASSES[int(label)]]


def _yaw_quaternion(yaw: float) -> Quaternion:
    """The foxglove ``Quaternion`` of a rotation by ``yaw`` radians about +z."""
    w, x, y, z = (float(v) for v in yaw_to_quaternion(yaw))
    return Quaternion(x=x, y=y, z=z, w=w)


def _parts(transform: np.ndarray) -> tuple[Vector3, Quaternion]:
    w, x, y, z = matrix_to_quaternion(transform[:3, :3])
    t = transform[:3, 3]
    return (Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
            Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)))


def pose(transform: np.ndarray) -> Pose:
    """Foxglove pose of a rigid (4, 4) transform."""
    position, orientation = _parts(transform)
    return Pose(position=position, orientation=orientation)


def _transform(parent: str, child: str, transform: np.ndarray, timestamp_us: int) -> FrameTransform:
    translation, rotation = _parts(transform)
    return FrameTransform(timestamp=stamp(timestamp_us), parent_frame_id=parent, child_frame_id=child,
                          translation=translation, rotation=rotation)


def frame_transforms(frame: Frame) -> FrameTransforms:
    """``map`` -> ``base_link`` (the ego pose at the LiDAR time), ``base_link`` -> each camera (its
    pose in the ego frame at the LiDAR time) and ``base_link`` -> ``lidar`` (the mounting)."""
    out = [_transform(MAP_FRAME, EGO_FRAME, frame.ego_to_global, frame.timestamp)]
    out += [_transform(EGO_FRAME, name, cam.cam_to_ego, frame.timestamp) for name, cam in frame.cameras.items()]
    if frame.cabin is not None:
        out.append(_transform(EGO_FRAME, frame.cabin.name, frame.cabin.cam_to_ego, frame.timestamp))
    if frame.lidar is not None:
        out.append(_transform(EGO_FRAME, "lidar", frame.lidar.lidar_to_ego, frame.timestamp))
    return FrameTransforms(transforms=out)


def point_cloud(lidar: Lidar) -> PointCloud:
    """The cloud in ``base_link``: float32 fields :data:`POINT_FIELDS`, 20 bytes per point."""
    points = np.ascontiguousarray(lidar.points, dtype="<f4")
    fields = [PackedElementField(name=n, offset=4 * i, type=_F32) for i, n in enumerate(POINT_FIELDS)]
    return PointCloud(timestamp=stamp(lidar.timestamp), frame_id=EGO_FRAME, pose=pose(np.eye(4)),
                      point_stride=4 * len(POINT_FIELDS), fields=fields, data=points.tobytes())


def compressed_image(camera: Camera, quality: int = 90) -> CompressedImage:
    """The camera image as JPEG (``quality`` 0-100) in the camera's frame.

    Raises:
        ValueError: the image cannot be encoded.
    """
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(camera.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"camera {camera.name}: JPEG encoding failed")
    return CompressedImage(timestamp=stamp(camera.timestamp), frame_id=camera.name, data=data.tobytes(), format="jpeg")


def camera_calibration(camera: Camera) -> CameraCalibration:
    """Pinhole calibration of the stored (undistorted) image: K, identity R, P = [K | 0]."""
    k = camera.intrinsics
    p = np.concatenate([k, np.zeros((3, 1))], axis=1)
    return CameraCalibration(timestamp=stamp(camera.timestamp), frame_id=camera.name, width=camera.width,
                             height=camera.height, distortion_model="plumb_bob", D=[0.0] * 5,
                             K=[float(v) for v in k.ravel()], R=[float(v) for v in np.eye(3).ravel()],
                             P=[float(v) for v in p.ravel()])


def box_label(boxes: Boxes3D, i: int) -> str:
    """``"<class> <score> #<i>"``: the label shown next to box ``i`` in the 3D and image views."""
    return f"{DETECTION_CLASSES[int(boxes.label[i])]} {float(boxes.score[i]):.2f} #{i}"


def image_annotations(boxes: Boxes3D, camera: Camera) -> ImageAnnotations:
    """Boxes projected into ``camera``: the 12 edges of each box whose corners are all in front of
    the camera and one at least inside the image, as a line list in the class colour, and its
    :func:`box_label` at the top front-left corner. Pixel coordinates of the stored image."""
    points, texts = [], []
    t = stamp(camera.timestamp)
    if len(boxes):
        corners, visible = project_boxes(boxes, camera)
        for i in np.flatnonzero(visible):
            rgb = class_color(boxes.label[i])
            uv = corners[i]
            corner = [Point2(x=float(u), y=float(v)) for u, v in uv]
            line = [corner[k] for edge in BOX_EDGES for k in edge]
            points.append(PointsAnnotation(timestamp=t, type=PointsAnnotationType.LineList, points=line,
                                           outline_color=color(rgb), thickness=2.0))
            texts.append(TextAnnotation(timestamp=t, position=Point2(x=float(uv[4, 0]), y=float(uv[4, 1])),
                                        text=box_label(boxes, int(i)), font_size=12.0, text_color=color(rgb),
                                        background_color=Color(r=0.0, g=0.0, b=0.0, a=0.5)))
    return ImageAnnotations(timestamp=t, points=points, texts=texts)


def scene_update(boxes: Boxes3D, timestamp_us: int, prefix: str, rgb: Sequence[int] | None = None,
                 labels: bool = True) -> SceneUpdate:
    """Every box as a cube entity in ``base_link``, replacing all earlier entities of the topic (a
    deletion of everything comes first).

    Entity ``i`` has id ``"<prefix>-<i>"``, a cube centred on the box centre with the box yaw,
    size (length, width, height), the class colour (or ``rgb``) at alpha 0.4, metadata ``class``
    and ``score``, and with ``labels`` its :func:`box_label` above it. Boxes are in the ego frame
    (``docs/conventions.md``).
    """
    t = stamp(timestamp_us)
    names = boxes.class_names()
    entities = []
    for i in range(len(boxes)):
        rgb_i = rgb if rgb is not None else class_color(boxes.label[i])
        (x, y, z), (length, width, height), yaw = boxes.center[i].tolist(), boxes.size[i].tolist(), float(boxes.yaw[i])
        cube = CubePrimitive(pose=Pose(position=Vector3(x=x, y=y, z=z),
                                       orientation=_yaw_quaternion(yaw)),
                             size=Vector3(x=length, y=width, z=height), color=color(rgb_i, 0.4))
        texts = [TextPrimitive(pose=Pose(position=Vector3(x=x, y=y, z=z + height / 2 + 0.3), orientation=Quaternion(w=1.0)),
                               billboard=True, font_size=12.0, scale_invariant=True, color=color(rgb_i),
                               text=box_label(boxes, i))] if labels else None
        entities.append(SceneEntity(
            timestamp=t, frame_id=EGO_FRAME, id=f"{prefix}-{i}",
            metadata=[KeyValuePair(key="class", value=names[i]), KeyValuePair(key="score", value=f"{float(boxes.score[i]):.4f}")],
            cubes=[cube], texts=texts))
    return SceneUpdate(deletions=[SceneEntityDeletion(timestamp=t, type=SceneEntityDeletionType.All)],
                       entities=entities)


def bev_grid(probabilities: np.ndarray, grid: BevGrid, names: Sequence[str], timestamp_us: int) -> Grid:
    """BEV segmentation probabilities (C, X, Y) on ``grid`` as a Foxglove grid in ``base_link``.

    One uint8 field per class (``names``) holding ``round(255 * p)`` (a quarter of the bytes of
    float32; Foxglove colours by a field's value between a minimum and a maximum, here 0 and 255).
    The grid's origin is the corner (xmin, ymin) of cell [0, 0], columns run along ego +x and rows
    along ego +y, so the value of class ``c`` at cell [i, j] is byte ``j * row_stride + i * cell_stride
    + c`` (Foxglove's row-major layout).

    Raises:
        ValueError: the array does not match ``names`` and ``grid``.
    """
    c, nx, ny = probabilities.shape
    if c != len(names) or (nx, ny) != grid.shape:
        raise ValueError(f"BEV probabilities {probabilities.shape} do not match {len(names)} classes on grid {grid.shape}")
    levels = np.rint(np.clip(np.transpose(probabilities, (2, 1, 0)), 0.0, 1.0) * 255.0).astype(np.uint8)
    origin = np.eye(4)
    origin[:2, 3] = grid.xmin, grid.ymin
    return Grid(timestamp=stamp(timestamp_us), frame_id=EGO_FRAME, pose=pose(origin), column_count=nx,
                cell_size=Vector2(x=grid.resolution, y=grid.resolution), row_stride=nx * c, cell_stride=c,
                fields=[PackedElementField(name=n, offset=k, type=PackedElementFieldNumericType.Uint8)
                        for k, n in enumerate(names)],
                data=np.ascontiguousarray(levels).tobytes())


def depth_image(depth: np.ndarray, frame_id: str, timestamp_us: int) -> RawImage:
    """(H, W) depth in metres along the optical axis as a ``32FC1`` image (little-endian float32)."""
    d = np.ascontiguousarray(depth, dtype="<f4")
    h, w = d.shape
    return RawImage(timestamp=stamp(timestamp_us), frame_id=frame_id, width=w, height=h, encoding="32FC1",
                    step=4 * w, data=d.tobytes())
