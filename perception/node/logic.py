"""The ROS 2 perception node's logic, with no ROS import: :class:`PerceptionNode`.

A transport (:mod:`perception.node.dds` over Cyclone DDS, :mod:`perception.node.rclpy_node` with
rclpy) subscribes to :attr:`PerceptionNode.input_topics`, hands every message to
:meth:`PerceptionNode.on_message` (on its callback threads) and implements a :class:`Transport`
(publish a message, count a topic's subscribers). Messages are rosbags objects or anything with
the same fields (rclpy messages).

What happens to a message (docs/ros.md):

1. Stamp check: a LiDAR, image or ``/tf`` message stamped more than ``max_stamp_jump_s`` away
   from the newest accepted stamp is refused and counted (a stamp far in the future, or a
   sensor whose clock is far behind). After ``resync_after`` LiDAR messages refused in a row the
   node restarts synchronization on their time base (a bag that loops, a clock reset), keeping
   the static transforms and CameraInfos.
2. :class:`sensors.ros.sync.FrameSynchronizer` (the replay's synchronizer): each LiDAR message
   triggers a frame with the camera images nearest to its stamp within ``sync_tolerance_s``;
   bad input (a PointCloud2 without x/y/z, an image that does not decode, a CameraInfo with a
   zero focal length, messages out of order ...) is counted there, and the frame goes on without
   that sensor. Each new kind of bad input is logged once (one line) and stays in the diagnostics.
   Frames still waiting when the inputs go quiet for longer than the synchronizer would wait are
   built then.
3. A built frame goes to a latest-only slot (:class:`LatestSlot`): a frame still waiting when a
   newer one is built is replaced and counted as dropped, so slow inference never holds up the
   callbacks.
4. The inference thread takes the frame, skips it when no output topic has a subscriber
   (counted), else runs :func:`perception.inference.predict.predict_batch` (the evaluation's and
   the replay's inference path) and publishes the outputs that have subscribers
   (:mod:`perception.node.outputs`).
5. ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``) every ``diagnostics_period_s``:
   input rates, latency, dropped and skipped frames, bad input by reason, and one status per
   sensor (WARN when silent for longer than ``sensor_timeout_s``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from perception.config import Config
from perception.inference.predict import predict_batch
from perception.inference.timing import StageTimer
from perception.model import FusionModel
from perception.model.prediction import Prediction
from perception.node import outputs as out
from perception.node.params import NODE_NAME, NodeParams
from perception.replay.driver_state import DriverTrack
from perception.replay.ros_sink import depth_image, marker_array
from sensors.boxes import Boxes3D
from sensors.frame import Frame
from sensors.geometry import invert_transform
from sensors.ros.detections import encode_detection3d_array
from sensors.ros.grid import encode_probability_layer
from sensors.ros.profile import CAMERA_INFO, Profile
from sensors.ros.summary import ReplaySummary
from sensors.ros.sync import CABIN, FrameSynchronizer
from sensors.ros.types import header, stamp_to_ns, typestore

#: Topic of the diagnostics (global, as every ROS 2 node's).
DIAGNOSTICS_TOPIC = "/diagnostics"
#: DiagnosticStatus levels.
OK, WARN, ERROR = 0, 1, 2
#: Seconds of arrivals over which input rates are measured.
RATE_WINDOW_S = 5.0
#: Latencies kept for the diagnostics' median and 95th percentile.
LATENCY_HISTORY = 200

log = logging.getLogger("perception.node")


class Transport(Protocol):
    """What the node needs from a middleware."""

    def publish(self, topic: str, msgtype: str, msg: Any) -> None:
        """Send the rosbags message ``msg`` of type ``msgtype`` on ``topic``."""

    def subscribers(self, topic: str) -> int:
        """Number of subscribers currently matched on ``topic``."""


class LatestSlot:
    """A queue of length one that keeps the newest item: :meth:`put` replaces a waiting item
    (returns True then: that item is dropped), :meth:`get` waits for one."""

    def __init__(self) -> None:
        self._item: Any = None
        self._full = False
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: Any) -> bool:
        with self._cond:
            replaced = self._full
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def get(self, timeout: float | None = None) -> Any:
        """The waiting item (removed), or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._full and not self._closed:
                self._cond.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class _Pending:
    """A frame waiting for inference, with what its outputs need from the LiDAR message."""

    frame: Frame
    cloud_stamp_ns: int
    cloud_frame_id: str
    lidar_arrival_s: float
    built_s: float
    image_frame_ids: dict[str, str]


@dataclass
class NodeCounters:
    """The numbers behind ``/diagnostics`` (cumulative since start).

    Attributes:
        frames_built: frames the synchronizer built.
        frames_published: frames run through the model and published.
        frames_dropped: frames replaced in the slot by a newer one before inference.
        frames_skipped: frames not run because no output topic had a subscriber.
        stamps_refused: reason -> messages refused by the stamp check.
        resyncs: synchronization restarts on a new time base.
        errors: exception name -> frames whose inference or publishing failed (a bug; logged once).
        latency_s: message in (LiDAR arrival) -> outputs published, per published frame (s).
        sync_wait_s: LiDAR arrival -> frame built (waiting for the images), per frame (s).
        stage_s: stage -> seconds of the last published frame (``preprocessing``, ``model``,
            ``postprocessing``, ``publish``).
    """

    frames_built: int = 0
    frames_published: int = 0
    frames_dropped: int = 0
    frames_skipped: int = 0
    stamps_refused: Counter = field(default_factory=Counter)
    resyncs: int = 0
    errors: Counter = field(default_factory=Counter)
    latency_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))
    sync_wait_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))
    stage_s: dict[str, float] = field(default_factory=dict)


class PerceptionNode:
    """The node's decisions (see the module docstring); a transport moves the messages.

    Args:
        params: the node's parameters (checked).
        profile: which input topic is which sensor.
        transport: publishes and counts subscribers.
        model, config: the loaded checkpoint; None with ``model_error`` set when it could not be
            used (a checkpoint that does not match the config): the node then keeps running,
            without inference, and says why in the diagnostics.
        device: inference device.
        clock: monotonic seconds (arrival times, rates, latency); injectable for tests.
    """

    def __init__(self, params: NodeParams, profile: Profile, transport: Transport, model: FusionModel | None,
                 config: Config | None, device: torch.device, *, model_error: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if model is None and model_error is None:
            raise ValueError("a node without a model needs model_error (why)")
        self.params, self.profile, self.transport = params, profile, transport
        self.model, self.config, self.device, self.model_error = model, config, device, model_error
        self.clock = clock
        self.store = typestore("humble")
        self.counters = NodeCounters()
        self.slot = LatestSlot()
        self.summary = ReplaySummary()
        self._lock = threading.Lock()
        self._sync = self._new_synchronizer()
        self._static: dict[str, Any] = {}  # tf_static messages and CameraInfos, replayed on a resync
        self._newest_ns: int | None = None
        self._refused_lidar = 0
        self._clouds: dict[int, tuple[str, float]] = {}  # LiDAR stamp ns -> (frame_id, arrival)
        self._image_frame_ids: dict[str, str] = {}
        #: Input topic -> message type to subscribe to.
        self.input_topics = self._input_topics()
        self._image_topics = {c.image: name for name, c in profile.cameras.items()} | (
            {profile.cabin.image: CABIN} if profile.cabin else {})
        self._arrivals: dict[str, deque] = {t: deque() for t in self.input_topics}
        self._bad_reported = 0
        self._flushed_at: float | None = None
        self._logged: set[str] = set()
        self._unusable_seen: Counter = Counter()
        self._driver = DriverTrack()
        self._warm = False
        self._timer = StageTimer(device)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        cameras = tuple(config.model.cameras) if config is not None else tuple(profile.cameras)
        driver = config is not None and config.model.heads.driver.enabled
        self.output_topics = out.output_topics(params.output_prefix, cameras, driver)
        #: Every topic the node publishes -> message type (the outputs and ``/diagnostics``), which a
        #: transport advertises at start-up so that subscribers match before the first frame.
        self.published_topics = {**self.output_topics, DIAGNOSTICS_TOPIC: out.DIAGNOSTICS}
        #: Input topics read with the static-transform QoS (transient local) rather than sensor data's.
        self.latched_topics = {profile.tf_static}
        self._sensor_topics = {"lidar": profile.lidar} | {n: c.image for n, c in profile.cameras.items()}
        if profile.cabin is not None:
            self._sensor_topics[CABIN] = profile.cabin.image
        if model_error:
            self._log_once("model", f"no inference: {model_error}")

    # -- inputs (callback threads) ---------------------------------------------------------------
    def _input_topics(self) -> dict[str, str]:
        """Input topic -> the message type subscribed to (images: the profile's image type is
        CompressedImage for ``*compressed`` topics, Image otherwise)."""
        topics: dict[str, str] = {self.profile.lidar: "sensor_msgs/msg/PointCloud2", self.profile.tf: "tf2_msgs/msg/TFMessage",
                                  self.profile.tf_static: "tf2_msgs/msg/TFMessage"}
        cameras = [*self.profile.cameras.values(), *([self.profile.cabin] if self.profile.cabin else [])]
        for camera in cameras:
            compressed = camera.image.rstrip("/").endswith("compressed")
            topics[camera.image] = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
            topics[camera.info] = CAMERA_INFO
        return topics

    def on_message(self, topic: str, msg: Any, receive_time_ns: int | None = None) -> None:
        """Take one input message (any thread). Never raises on bad input: it is counted.

        Args:
            receive_time_ns: wall-clock arrival (ns since the epoch), standing in for header
                stamps left at zero; default: now.
        """
        now = self.clock()
        receive_time_ns = time.time_ns() if receive_time_ns is None else receive_time_ns
        with self._lock:
            if topic in self._arrivals:
                arrivals = self._arrivals[topic]
                arrivals.append(now)
                while arrivals and arrivals[0] < now - RATE_WINDOW_S:
                    arrivals.popleft()
            if topic == self.profile.tf_static or self.input_topics.get(topic) == CAMERA_INFO:
                self._static[topic] = msg if topic != self.profile.tf_static else self._merge_static(topic, msg)
            elif not self._stamp_ok(topic, msg, receive_time_ns):
                return
            if topic == self.profile.lidar:
                stamp = stamp_to_ns(msg.header.stamp) or int(receive_time_ns)
                self._clouds[stamp] = (str(msg.header.frame_id), now)
            elif topic in self._image_topics:
                self._image_frame_ids[self._image_topics[topic]] = str(msg.header.frame_id)
            frames = self._sync.add(topic, msg, receive_time_ns)
            self._log_new_bad_input()
            for frame in frames:
                self._enqueue(frame)

    def flush(self) -> None:
        """Build the frames still waiting for late messages (end of input)."""
        with self._lock:
            for frame in self._sync.flush():
                self._enqueue(frame)
            self._log_new_bad_input()

    def _merge_static(self, topic: str, msg: Any) -> Any:
        """Keep every static transform seen (later /tf_static messages add frames)."""
        previous = self._static.get(topic)
        if previous is None:
            return msg
        kept = {str(t.child_frame_id): t for t in previous.transforms} | {str(t.child_frame_id): t for t in msg.transforms}
        return type(msg)(transforms=list(kept.values()))

    def _stamp_ok(self, topic: str, msg: Any, receive_time_ns: int) -> bool:
        if topic == self.profile.tf:
            stamps = [stamp_to_ns(t.header.stamp) for t in msg.transforms]
            if not stamps:
                return True
            stamp = max(stamps)
        elif hasattr(msg, "header"):
            stamp = stamp_to_ns(msg.header.stamp) or int(receive_time_ns)
        else:
            return True
        if self._newest_ns is None or abs(stamp - self._newest_ns) <= self.params.max_stamp_jump_s * 1e9:
            self._newest_ns = stamp if self._newest_ns is None else max(self._newest_ns, stamp)
            if topic == self.profile.lidar:
                self._refused_lidar = 0
            return True
        if topic == self.profile.lidar:
            self._refused_lidar += 1
            if self._refused_lidar >= self.params.resync_after:
                self._resync(stamp)
                return True
        reason = "stamp far in the future" if stamp > self._newest_ns else "stamp far in the past"
        self.counters.stamps_refused[reason] += 1
        jump = (stamp - self._newest_ns) * 1e-9
        self._log_once(reason, f"{reason}: {topic} stamped {jump:+.1f} s from the newest accepted stamp (refused)")
        return False

    def _resync(self, stamp: int) -> None:
        """Restart synchronization on the time base of ``stamp`` (static transforms and
        CameraInfos are fed again)."""
        self.counters.resyncs += 1
        log.warning("%s: LiDAR stamps jumped by %+.1f s %d times in a row: synchronization restarted",
                    NODE_NAME, (stamp - (self._newest_ns or stamp)) * 1e-9, self._refused_lidar)
        self._sync = self._new_synchronizer()
        self._clouds.clear()
        self._newest_ns, self._refused_lidar = stamp, 0
        for topic, msg in self._static.items():
            self._sync.add(topic, msg)

    def _new_synchronizer(self) -> FrameSynchronizer:
        return FrameSynchronizer(self.profile, self.params.sync_tolerance_s, wait_s=self.params.sync_wait_s,
                                 scene=NODE_NAME, summary=self.summary)

    def _log_once(self, key: str, line: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s: %s", NODE_NAME, line)

    def _log_new_bad_input(self) -> None:
        for reason, count in self.summary.unusable.items():
            if count and reason not in self._unusable_seen:
                self._log_once(reason, f"{reason}: {self.summary.examples.get(reason, '')} (counted in /diagnostics)")
        self._unusable_seen = Counter(self.summary.unusable)

    def _enqueue(self, frame: Frame) -> None:
        self.counters.frames_built += 1
        stamp_ns = next((s for s in self._clouds if s // 1000 == frame.timestamp), frame.timestamp * 1000)
        frame_id, arrival = self._clouds.pop(stamp_ns, (self.profile.base_frame, self.clock()))
        for old in [s for s in self._clouds if s < stamp_ns]:
            del self._clouds[old]
        now = self.clock()
        self.counters.sync_wait_s.append(now - arrival)
        if self.slot.put(_Pending(frame, stamp_ns, frame_id, arrival, now, dict(self._image_frame_ids))):
            self.counters.frames_dropped += 1

    # -- inference (its own thread) ---------------------------------------------------------------
    def process_next(self, timeout: float | None = 0.0) -> bool:
        """Run the waiting frame, if any (within ``timeout`` seconds); True when one was taken."""
        pending = self.slot.get(timeout)
        if pending is None:
            return False
        if self.model is None or not any(self.transport.subscribers(t) for t in self.output_topics):
            self.counters.frames_skipped += 1
            return True
        self._infer(pending)
        return True

    def _infer(self, pending: _Pending) -> None:
        frame = pending.frame
        if not self._warm:  # the first forward pass pays one-off costs (the replay does the same)
            predict_batch(self.model, [frame], self.device, StageTimer(self.device))
            self._warm = True
        _, (prediction,) = predict_batch(self.model, [frame], self.device, self._timer)
        stages = self._timer.take()
        start = time.perf_counter()
        self._publish(pending, prediction, stages)
        stages["publish"] = time.perf_counter() - start
        self.counters.stage_s = {k: stages.get(k, 0.0) for k in (*out.TIMING_STAGES, "publish")}
        self.counters.latency_s.append(self.clock() - pending.lidar_arrival_s)
        self.counters.frames_published += 1

    def _wanted(self, topic: str) -> bool:
        return self.transport.subscribers(topic) > 0

    def _publish(self, pending: _Pending, prediction: Prediction, stages: dict[str, float]) -> None:
        prefix, store, frame = self.params.output_prefix, self.store, pending.frame
        stamp, frame_id = pending.cloud_stamp_ns, pending.cloud_frame_id
        ego_to_cloud = self._ego_to(frame_id, stamp)
        if ego_to_cloud is None:
            self._log_once("no cloud frame", f"no transform {self.profile.base_frame} -> {frame_id!r}: outputs are "
                           f"published in {self.profile.base_frame}")
            ego_to_cloud, frame_id = np.eye(4), self.profile.base_frame
        boxes = prediction.boxes if prediction.boxes is not None else Boxes3D.empty()
        boxes = boxes.select(np.flatnonzero(boxes.score >= self.params.score_threshold)) if len(boxes) else boxes
        if not np.allclose(ego_to_cloud, np.eye(4)):
            boxes = boxes.transform(ego_to_cloud)
        send = self.transport.publish
        if prediction.boxes is not None:
            if self._wanted(topic := f"{prefix}/detections"):
                send(topic, out.DETECTIONS, encode_detection3d_array(store, boxes, stamp, frame_id))
            if self._wanted(topic := f"{prefix}/markers"):
                send(topic, out.MARKERS, marker_array(store, boxes, stamp, frame_id))
            if self._wanted(topic := f"{prefix}/objects"):
                send(topic, out.OBJECTS, out.detected_objects(store, boxes, stamp, frame_id))
        if prediction.bev_map is not None and self.config is not None:
            grid = self.config.model.heads.segmentation.grid
            for layer, name in zip(prediction.bev_map, out.MAP_CLASSES):
                if self._wanted(topic := f"{prefix}/bev/{name}"):
                    send(topic, out.GRID, encode_probability_layer(store, layer, grid, stamp, self.profile.base_frame))
        for name, depth in (prediction.depth or {}).items():
            camera = frame.cameras.get(name)
            if camera is not None and self._wanted(topic := f"{prefix}/{name}/depth"):
                send(topic, out.IMAGE, depth_image(store, depth, camera.timestamp * 1000,
                                                   pending.image_frame_ids.get(name, name)))
        # The monitor sees every cabin image (its state runs on), published or not.
        update = self._driver.update(frame.cabin.timestamp, prediction) if frame.cabin is not None else None
        if update is not None and self._wanted(topic := f"{prefix}/driver_state"):
            send(topic, out.DRIVER, out.driver_state(store, update.state, [e.kind for e in update.ended],
                                                     frame.cabin.timestamp * 1000,
                                                     pending.image_frame_ids.get(CABIN, CABIN)))
        for stage, name in out.TIMING_TOPICS.items():
            if self._wanted(topic := f"{prefix}/timing/{name}"):
                send(topic, out.FLOAT, out.float64(store, stages.get(stage, 0.0) * 1e3))

    def _ego_to(self, frame_id: str, stamp_ns: int) -> np.ndarray | None:
        with self._lock:
            to_ego = self._sync.tf.lookup(self.profile.base_frame, frame_id, stamp_ns)
        return None if to_ego is None else invert_transform(to_ego)

    # -- running ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the inference thread and the diagnostics timer."""
        self._stop.clear()
        self._threads = [threading.Thread(target=self._run_inference, name="perception-inference", daemon=True),
                         threading.Thread(target=self._run_diagnostics, name="perception-diagnostics", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both threads (the frame in progress finishes)."""
        self._stop.set()
        self.slot.close()
        for thread in self._threads:
            thread.join(timeout)

    def _run_inference(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.process_next(timeout=0.1):
                    self._flush_if_idle()
            except Exception as error:  # noqa: BLE001 - a bug must not kill the node silently: one line, counted
                self.counters.errors[type(error).__name__] += 1
                self._log_once(f"error {type(error).__name__}", f"inference failed: {type(error).__name__}: {error}")

    def _flush_if_idle(self) -> None:
        """Build the frames still waiting for later messages once the inputs have been quiet for
        longer than the synchronizer would wait (the sensors stopped: the last frames still come)."""
        quiet = self.params.sync_tolerance_s + self.params.sync_wait_s + 0.1
        with self._lock:
            last = max((a[-1] for a in self._arrivals.values() if a), default=None)
            idle = last is not None and self.clock() - last > quiet and last != self._flushed_at
        if idle:
            self._flushed_at = last
            self.flush()

    def _run_diagnostics(self) -> None:
        while not self._stop.wait(self.params.diagnostics_period_s):
            self.transport.publish(DIAGNOSTICS_TOPIC, out.DIAGNOSTICS, self.diagnostics())

    # -- diagnostics ------------------------------------------------------------------------------
    def rate_hz(self, topic: str) -> float:
        """Arrival rate of ``topic`` over the last :data:`RATE_WINDOW_S` seconds (0: fewer than two)."""
        with self._lock:
            arrivals = list(self._arrivals.get(topic, ()))
        now = self.clock()
        arrivals = [a for a in arrivals if a >= now - RATE_WINDOW_S]
        if len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
            return 0.0
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    def sensor_status(self) -> dict[str, tuple[int, str]]:
        """Sensor (``lidar``, camera names, ``cabin``) -> (level, message): OK while it publishes,
        WARN when silent for longer than ``sensor_timeout_s`` or never heard."""
        now = self.clock()
        status = {}
        with self._lock:
            last = {name: (self._arrivals[topic][-1] if self._arrivals[topic] else None)
                    for name, topic in self._sensor_topics.items()}
        for name, seen in last.items():
            if seen is None:
                status[name] = (WARN, "no message yet")
            elif now - seen > self.params.sensor_timeout_s:
                status[name] = (WARN, f"silent for {now - seen:.1f} s (frames go on without it)")
            else:
                status[name] = (OK, "alive")
        return status

    def diagnostics(self) -> Any:
        """The ``diagnostic_msgs/DiagnosticArray`` of the node's state now (see the module doc)."""
        t = self.store.types
        c = self.counters

        def status(level: int, name: str, message: str, values: dict[str, Any]) -> Any:
            return t["diagnostic_msgs/msg/DiagnosticStatus"](
                level=level, name=f"{NODE_NAME}: {name}", message=message, hardware_id=NODE_NAME,
                values=[t["diagnostic_msgs/msg/KeyValue"](key=k, value=str(v)) for k, v in values.items()])

        latency = np.array(c.latency_s) * 1e3
        values = {"frames_built": c.frames_built, "frames_published": c.frames_published,
                  "frames_dropped": c.frames_dropped, "frames_skipped_no_subscribers": c.frames_skipped,
                  "latency_ms_median": f"{np.median(latency):.1f}" if latency.size else "-",
                  "latency_ms_p95": f"{np.percentile(latency, 95):.1f}" if latency.size else "-",
                  "sync_wait_ms_median": f"{np.median(c.sync_wait_s) * 1e3:.1f}" if c.sync_wait_s else "-",
                  **{f"{k}_ms": f"{v * 1e3:.1f}" for k, v in c.stage_s.items()},
                  "checkpoint": self.params.checkpoint, "device": str(self.device)}
        if self.model_error:
            level, message = ERROR, f"no inference: {self.model_error}"
        elif c.frames_dropped:
            level, message = WARN, f"{c.frames_dropped} frames dropped (inference slower than the LiDAR)"
        else:
            level, message = OK, "running"
        statuses = [status(level, "inference", message, values)]
        with self._lock:
            bad = dict(self.summary.unusable) | dict(c.stamps_refused) | {f"error {k}": v for k, v in c.errors.items()}
            missing = dict(self.summary.missing)
        rates = {f"rate_hz {topic}": f"{self.rate_hz(topic):.2f}" for topic in self.input_topics}
        new_bad = sum(bad.values()) > self._bad_reported
        self._bad_reported = sum(bad.values())
        statuses.append(status(WARN if new_bad else OK, "inputs",
                               f"bad input: {', '.join(sorted(bad))}" if new_bad else "inputs usable",
                               rates | {f"bad {k}": v for k, v in sorted(bad.items())}
                               | {f"frames without {k}": v for k, v in sorted(missing.items())}
                               | {"resyncs": c.resyncs}))
        for name, (level, message) in self.sensor_status().items():
            topic = self._sensor_topics[name]
            statuses.append(status(level, f"sensor {name}", message,
                                   {"topic": topic, "rate_hz": f"{self.rate_hz(topic):.2f}"}))
        return t[out.DIAGNOSTICS](header=header(self.store, time.time_ns(), ""), status=statuses)
