"""Replay results on Foxglove channels: an MCAP file (``results.mcap``) and/or a live WebSocket stream.

One :class:`foxglove.Context` per replay holds the channels (:data:`TOPICS`); the MCAP writer and
the WebSocket server are sinks of that context, so both get the same messages. Log times are the
recorded sensor times: the LiDAR time for the cloud, the transforms and every prediction of the
frame, each camera's own time for its image, calibration, projected boxes and depth, the cabin
camera's for the driver state.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import foxglove
import numpy as np
from foxglove.channels import (
    CameraCalibrationChannel,
    CompressedImageChannel,
    FrameTransformsChannel,
    GridChannel,
    ImageAnnotationsChannel,
    LogChannel,
    PointCloudChannel,
    RawImageChannel,
    SceneUpdateChannel,
)
from foxglove.mcap import MCAPCompression, MCAPWriteOptions
from foxglove.messages import Log, LogLevel
from foxglove.websocket import WebSocketServer

from perception.model.prediction import Prediction
from perception.monitor import DriverEvent
from perception.replay import messages as fm
from perception.replay.driver_state import DriverTrack
from sensors.atomic import atomic_path
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid, Camera, Frame

#: Topic of each output (``{camera}``: the camera name, e.g. ``CAM_FRONT``).
TOPICS: dict[str, str] = {
    "tf": "/tf",
    "points": "/lidar/points",
    "image": "/camera/{camera}/image",
    "calibration": "/camera/{camera}/camera_info",
    "annotations": "/camera/{camera}/detections",
    "depth": "/camera/{camera}/depth",
    "boxes": "/detections/boxes",
    "gt_boxes": "/ground_truth/boxes",
    "bev": "/bev/segmentation",
    "gt_bev": "/ground_truth/bev",
    "cabin": "/cabin/image",
    "driver_state": "/driver/state",
    "driver_events": "/driver/events",
}
#: JSON schema of the driver state messages (see :class:`perception.replay.driver_state.DriverUpdate`).
DRIVER_STATE_SCHEMA: dict = {
    "title": "perception.DriverState",  # the schema name Foxglove shows (else a hash)
    "type": "object",
    "properties": {
        "eye_closed_p": {"type": "number"}, "phone_p": {"type": "number"}, "gaze_zone": {"type": "string"},
        "gaze_p": {"type": "object", "additionalProperties": {"type": "number"}},
        "head_yaw_deg": {"type": "number"}, "head_pitch_deg": {"type": "number"}, "head_roll_deg": {"type": "number"},
        "perclos": {"type": "number"}, "eyes_closed": {"type": "boolean"}, "off_road": {"type": "boolean"},
        "active_events": {"type": "array", "items": {"type": "string"}},
    },
}
_CHANNEL_TYPES = {
    "tf": FrameTransformsChannel, "points": PointCloudChannel, "image": CompressedImageChannel,
    "calibration": CameraCalibrationChannel, "annotations": ImageAnnotationsChannel, "depth": RawImageChannel,
    "boxes": SceneUpdateChannel, "gt_boxes": SceneUpdateChannel, "bev": GridChannel, "gt_bev": GridChannel,
    "cabin": CompressedImageChannel,
    "driver_events": LogChannel,
}


class FoxglovePublisher:
    """Logs each replayed frame and its prediction on the channels of :data:`TOPICS` in ``context``.

    Channels are created when first needed (a camera's topics when the camera first appears).

    Args:
        context: the SDK context whose sinks (MCAP writer, WebSocket server) receive the messages.
        segmentation_grid: the grid of the BEV segmentation head (ego frame).
        jpeg_quality: quality of the re-encoded camera images.
        server: the WebSocket server streaming ``context``, if any (its ``port`` is the one bound).
    """

    def __init__(self, context: foxglove.Context, segmentation_grid: BevGrid, jpeg_quality: int = 90,
                 server: WebSocketServer | None = None) -> None:
        self.context = context
        self.server = server
        self.grid = segmentation_grid
        self.jpeg_quality = jpeg_quality
        self.driver = DriverTrack()
        self._channels: dict[str, object] = {}
        self._last_us = 0
        self._last_image_us: dict[str, int] = {}

    def _channel(self, kind: str, camera: str = ""):
        topic = TOPICS[kind].format(camera=camera)
        if topic not in self._channels:
            if kind == "driver_state":
                self._channels[topic] = foxglove.Channel(topic, schema=DRIVER_STATE_SCHEMA, context=self.context)
            else:
                self._channels[topic] = _CHANNEL_TYPES[kind](topic, context=self.context)
        return self._channels[topic]

    def _new_image(self, camera: Camera) -> bool:
        """``camera``'s image is newer than the last one logged for that camera (an image synchronised
        into several frames, a camera slower than the LiDAR, is logged once); remembers it."""
        last = self._last_image_us.get(camera.name)
        if last is not None and camera.timestamp <= last:
            return False
        self._last_image_us[camera.name] = camera.timestamp
        return True

    def write(self, frame: Frame, prediction: Prediction) -> None:
        """Log ``frame`` (cloud, images, transforms, ground-truth boxes and map) and ``prediction`` (boxes in 3D and
        projected into each camera, BEV segmentation, depth, driver state and events). An image already logged
        with an earlier frame is not logged again; this frame's boxes and depth on it are."""
        t = frame.timestamp
        self._last_us = max(self._last_us, t)
        self._channel("tf").log(fm.frame_transforms(frame), log_time=fm.to_ns(t))
        if frame.lidar is not None:
            self._channel("points").log(fm.point_cloud(frame.lidar), log_time=fm.to_ns(frame.lidar.timestamp))
        boxes = prediction.boxes
        for name, camera in frame.cameras.items():
            ct = fm.to_ns(camera.timestamp)
            if self._new_image(camera):
                self._channel("image", name).log(fm.compressed_image(camera, self.jpeg_quality), log_time=ct)
                self._channel("calibration", name).log(fm.camera_calibration(camera), log_time=ct)
            if boxes is not None:
                self._channel("annotations", name).log(fm.image_annotations(boxes, camera), log_time=ct)
            if prediction.depth is not None and name in prediction.depth:
                self._channel("depth", name).log(fm.depth_image(prediction.depth[name], name, camera.timestamp),
                                                 log_time=ct)
        if boxes is not None:
            self._channel("boxes").log(fm.scene_update(boxes, t, "det"), log_time=fm.to_ns(t))
        gt = frame.annotations.boxes if frame.annotations is not None else None
        if gt is not None:
            self._channel("gt_boxes").log(fm.scene_update(gt, t, "gt", fm.GT_COLOR, labels=False), log_time=fm.to_ns(t))
        gt_map = frame.annotations.bev_map if frame.annotations is not None else None
        if gt_map is not None:
            self._channel("gt_bev").log(fm.bev_grid(gt_map.layers.astype(np.float32), gt_map.grid, MAP_CLASSES, t),
                                        log_time=fm.to_ns(t))
        if prediction.bev_map is not None:
            self._channel("bev").log(fm.bev_grid(prediction.bev_map, self.grid, MAP_CLASSES, t), log_time=fm.to_ns(t))
        if frame.cabin is not None:
            self._write_cabin(frame, prediction)

    def _write_cabin(self, frame: Frame, prediction: Prediction) -> None:
        """The cabin image once (an image synchronised into two frames is not repeated) and, when the
        model has a driver head, the driver state and the events that ended."""
        cabin = frame.cabin
        assert cabin is not None
        if not self._new_image(cabin):
            return
        ct = fm.to_ns(cabin.timestamp)
        self._channel("cabin").log(fm.compressed_image(cabin, self.jpeg_quality), log_time=ct)
        update = self.driver.update(cabin.timestamp, prediction)
        if update is not None:
            self._channel("driver_state").log(update.state, log_time=ct)
            self._log_events(update.ended, cabin.timestamp)

    def _log_events(self, events: list[DriverEvent], timestamp_us: int) -> None:
        for event in events:
            message = f"{event.kind} from {event.start_s:.2f} s to {event.end_s:.2f} s ({event.end_s - event.start_s:.2f} s)"
            self._channel("driver_events").log(
                Log(timestamp=fm.stamp(timestamp_us), level=LogLevel.Warning, message=message, name="driver_monitor"),
                log_time=fm.to_ns(timestamp_us))

    def finish(self) -> None:
        """Log the driver events still open at the end of the stream (at the last frame's time)."""
        self._log_events(self.driver.finish(), self.driver.last_us or self._last_us)


@contextmanager
def foxglove_outputs(mcap_path: Path | None, segmentation_grid: BevGrid, serve: tuple[str, int] | None = None
                     ) -> Iterator[FoxglovePublisher]:
    """A :class:`FoxglovePublisher` whose messages go to ``mcap_path`` and/or a WebSocket server.

    The MCAP file has LZ4-compressed chunks (most of the bytes are JPEG images and float maps that
    Zstandard shrinks by only a fifth, at twice LZ4's CPU time). It is written to a temporary file next to ``mcap_path`` and renamed over it when the
    ``with`` block ends normally (:func:`sensors.atomic.atomic_path`); on an exception it is
    removed and an existing file is left as it was. ``serve`` = (host, port) starts the SDK's
    WebSocket server for Foxglove (port 0: any free port; ``publisher.server.port`` tells which),
    stopped at the end.

    Raises:
        ValueError: the server cannot bind ``serve`` (one line naming the address and the reason).
    """
    context = foxglove.Context()
    server = None
    if serve is not None:
        try:
            server = foxglove.start_server(context=context, host=serve[0], port=serve[1], name="perception replay")
        except RuntimeError as error:  # the SDK's FoxgloveError: address in use, unknown host ...
            raise ValueError(f"--serve {serve[0]}:{serve[1]}: {error}") from None
    publisher = FoxglovePublisher(context, segmentation_grid, server=server)
    try:
        if mcap_path is None:
            yield publisher
            publisher.finish()
            return
        with atomic_path(mcap_path) as tmp:
            writer = foxglove.open_mcap(tmp, allow_overwrite=True, context=context,
                                        writer_options=MCAPWriteOptions(compression=MCAPCompression.Lz4))
            try:
                yield publisher
                publisher.finish()
            finally:
                writer.close()
    finally:
        if server is not None:
            server.stop()
