"""Recorded drives as frames: :func:`open_recording` and :class:`Recording`.

A recording is a rosbag2 (folder with ``metadata.yaml``, split or not, or one ``.mcap`` /
``.db3`` file), a ROS 1 ``.bag``, or a folder of ``.pcd`` files (LiDAR only, see
:mod:`sensors.ros.pcd`). Topics are mapped to sensors by a profile (:mod:`sensors.ros.profile`,
chosen automatically by which topics exist), messages are synchronized into frames by
:class:`sensors.ros.sync.FrameSynchronizer`. Damaged input never stops the replay: what cannot
be used is counted in :attr:`Recording.summary`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sensors.errors import CorruptDataError, MissingDataError, SensorDataError
from sensors.frame import Frame
from sensors.ros.bagio import BAG_SUFFIXES, BagSource, is_ros1_folder, open_bag
from sensors.ros.pcd import PcdFolder, is_pcd_folder
from sensors.ros.profile import (
    POINTCLOUD,
    Profile,
    ProfileFit,
    choose_profile,
    fit_profile,
    load_profile,
)
from sensors.ros.summary import ReplaySummary
from sensors.ros.sync import CABIN, FrameSynchronizer


@dataclass
class TopicReport:
    """One topic in :meth:`Recording.inspect`: type, messages, mean rate over the recording,
    what the profile uses it for (None: unused) and why it cannot be used (None: it can)."""

    topic: str
    msgtype: str
    count: int
    rate_hz: float
    role: str | None
    problem: str | None


@dataclass
class RecordingInfo:
    """What :meth:`Recording.inspect` finds: format, duration, topics, profile fits, notes."""

    path: Path
    format: str
    duration_s: float
    topics: list[TopicReport]
    profile: str
    fits: list[ProfileFit]
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"{self.path}: {self.format}, {self.duration_s:.1f} s, {len(self.topics)} topics, profile {self.profile}"]
        width = max((len(t.topic) for t in self.topics), default=5)
        for t in self.topics:
            role = t.role or "-"
            problem = f"  CANNOT USE: {t.problem}" if t.problem else ""
            out.append(f"  {t.topic:<{width}}  {t.msgtype:<36} {t.count:>7} msgs {t.rate_hz:7.2f} Hz  {role}{problem}")
        out += ["profiles (best first):"] if self.fits else []  # none for a .pcd folder
        for fit in self.fits:
            absent = f"; absent: {', '.join(fit.absent)}" if fit.absent else ""
            wrong = f"; wrong type: {', '.join(fit.wrong_type)}" if fit.wrong_type else ""
            status = "fits" if fit.usable else "no LiDAR topic"
            out.append(f"  {fit.profile.name}: {status}, {len(fit.matched)} topics matched{absent}{wrong}")
        out += [f"note: {n}" for n in self.notes]
        return out


def _roles(profile: Profile) -> dict[str, str]:
    roles = {profile.lidar: "lidar", profile.tf: "tf (ego motion)", profile.tf_static: "tf_static (calibration)"}
    cameras = dict(profile.cameras)
    if profile.cabin is not None:
        cameras[CABIN] = profile.cabin
    for name, topics in cameras.items():
        roles[topics.image] = f"{name} image"
        roles[topics.info] = f"{name} camera_info"
    if profile.boxes:
        roles[profile.boxes] = "ground-truth boxes"
    for layer, topic in profile.map_topics().items():
        roles[topic] = f"ground-truth map {layer}"
    return roles


class Recording:
    """A recorded drive, iterable as frames in LiDAR time order (see :func:`open_recording`).

    Attributes:
        path: the recording.
        profile: the topic profile in use.
        tolerance_s: camera-to-LiDAR synchronization tolerance (s).
        sweeps: LiDAR messages per frame.
        image_reduction: images are decoded at 1/image_reduction of their size.
        summary: counters of the last (or current) iteration: frames, frames without each
            sensor, unusable messages by reason, notes.
    """

    def __init__(self, path: Path, source: BagSource | PcdFolder, profile: Profile, tolerance_s: float, sweeps: int,
                 fits: list[ProfileFit], image_reduction: int = 1) -> None:
        self.path, self.profile, self.tolerance_s, self.sweeps = path, profile, tolerance_s, sweeps
        self.image_reduction = image_reduction
        self.summary = ReplaySummary()
        self._source, self._fits = source, fits

    @property
    def scene(self) -> str:
        """Scene name of the frames: the recording's name."""
        return self.path.stem if self.path.is_file() else self.path.name

    def synchronizer(self, summary: ReplaySummary | None = None) -> FrameSynchronizer:
        """A new synchronizer for this recording's profile and settings."""
        return FrameSynchronizer(self.profile, self.tolerance_s, sweeps=self.sweeps, scene=self.scene, summary=summary,
                                 image_reduction=self.image_reduction)

    def __iter__(self) -> Iterator[Frame]:
        self.summary = summary = ReplaySummary()
        if isinstance(self._source, PcdFolder):
            yield from self._source.frames(summary, self.scene)
            return
        source = self._source
        sync = self.synchronizer(summary)
        expected = self.profile.expected_types()
        usable = set()
        absent = sorted(t for t in sync.topics if t not in source.topics)
        if absent:
            summary.note(f"topics of profile {self.profile.name} not in the recording: {', '.join(absent)}")
        for topic in sorted(sync.topics):
            entry = source.topics.get(topic)
            if entry is None:
                continue
            if entry.definition is None:
                summary.count_unusable("unknown message type", f"{topic}: {entry.msgtype}", entry.count)
            elif entry.msgtype not in expected[topic]:
                summary.count_unusable("message type does not fit the topic's role",
                                       f"{topic}: {entry.msgtype}, expected {' or '.join(expected[topic])}", entry.count)
            else:
                usable.add(topic)
        for topic, entry in source.topics.items():
            if topic not in sync.topics and entry.definition is None:
                summary.count_unusable("unknown message type", f"{topic}: {entry.msgtype}", entry.count)
        for raw in source.messages(usable):
            try:
                msg = source.decode(raw)
            except CorruptDataError as error:
                summary.count_unusable("message does not deserialize", error.reason)
                continue
            yield from sync.add(raw.topic, msg, raw.log_time_ns)
        yield from sync.flush()
        for line in source.notes:
            summary.note(line)

    def inspect(self) -> RecordingInfo:
        """Topics, types, counts, rates, the fitting profiles and what cannot be used, and why."""
        if isinstance(self._source, PcdFolder):
            return self._source.inspect(self._fits)
        source = self._source
        roles = _roles(self.profile)
        expected = self.profile.expected_types()
        duration = source.duration_s
        topics = []
        for topic, entry in source.topics.items():
            problem = None
            if entry.definition is None:
                problem = (f"unknown message type {entry.msgtype}: no definition in the recording nor in the "
                           f"ROS {'1 Noetic' if source.ros1 else '2 Humble'} type store (skipped)")
            elif topic in expected and entry.msgtype not in expected[topic]:
                problem = f"type {entry.msgtype} does not fit its role (expected {' or '.join(expected[topic])})"
            elif topic not in roles:
                problem = f"not used by profile {self.profile.name}"
            rate = (entry.count - 1) / duration if duration > 0 and entry.count > 1 else 0.0
            topics.append(TopicReport(topic, entry.msgtype, entry.count, rate, roles.get(topic), problem))
        fmt = ("ROS 1 bag" if source.path.is_file() else "ROS 1 bags (split)") if source.ros1 \
            else f"rosbag2 ({_storage(source.path)})"
        return RecordingInfo(self.path, fmt, duration, topics, self.profile.name, self._fits, list(source.notes))


def _storage(path: Path) -> str:
    if path.suffix in (".mcap", ".db3"):
        return "mcap" if path.suffix == ".mcap" else "sqlite3"
    files = {p.suffix for p in path.glob("*") if p.suffix in (".mcap", ".db3")}
    return "mcap" if ".mcap" in files else "sqlite3" if files else "unknown storage"


def is_recording(path: Path) -> bool:
    """``path`` looks like a recording :func:`open_recording` reads."""
    path = Path(path)
    if path.is_file():
        return path.suffix in BAG_SUFFIXES
    return path.is_dir() and ((path / "metadata.yaml").exists() or is_ros1_folder(path) or is_pcd_folder(path))


def open_recording(path: str | Path, profile: str | Path | Profile | None = None, tolerance_s: float = 0.12, *,
                   sweeps: int = 1, image_reduction: int = 1) -> Recording:
    """Open a recorded drive for replay.

    Args:
        path: a rosbag2 folder (split or not), a ``.mcap`` / ``.db3`` file, a ROS 1 ``.bag`` or
            a folder of ``.bag`` files (a split ROS 1 recording), or a folder of ``.pcd`` files.
        profile: a shipped profile name (``sim``, ``nuscenes``, ``autoware``), a profile YAML
            path, a :class:`Profile`, or None to choose the shipped profile that fits best.
        tolerance_s: largest |camera stamp - LiDAR stamp| (s) for a camera to join a frame.
        sweeps: LiDAR messages aggregated per frame (motion-compensated).
        image_reduction: 1, 2, 4 or 8: decode camera images at 1/image_reduction of their size
            (JPEG several times faster; intrinsics scaled to match), for a model whose input is
            that small anyway.

    Returns:
        The :class:`Recording`; iterate it for frames. Opening reads only the index.

    Raises:
        MissingDataError: ``path`` does not exist or a named profile does not.
        CorruptDataError: the recording cannot be opened at all.
        UnknownLayoutError: the path is no recording.
        SensorDataError: the recording has no LiDAR topic the profile (or any shipped profile)
            knows; the message names the PointCloud2 topics it has.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    if sweeps < 1 or image_reduction not in (1, 2, 4, 8):
        raise ValueError(f"need sweeps >= 1 and image_reduction in (1, 2, 4, 8), got {sweeps}, {image_reduction}")
    path, source, chosen, fits = _open(path, profile)
    if isinstance(source, PcdFolder):
        return Recording(path, source, chosen or load_profile("nuscenes"), tolerance_s, sweeps, [], image_reduction)
    if not fits[0].usable:
        raise SensorDataError(path, _no_lidar(source, chosen))
    return Recording(path, source, fits[0].profile, tolerance_s, sweeps, fits, image_reduction)


def inspect_recording(path: str | Path, profile: str | Path | Profile | None = None) -> RecordingInfo:
    """:meth:`Recording.inspect` of the recording at ``path``, also when no profile fits it (no
    LiDAR topic): then every topic is listed against the best partial fit, the report's profile is
    ``none`` and a note says why, so that a profile for the recording can be written from it.

    Raises:
        MissingDataError, CorruptDataError, UnknownLayoutError: as :func:`open_recording`.
    """
    path, source, chosen, fits = _open(path, profile)
    if isinstance(source, PcdFolder):
        return source.inspect(fits)
    info = Recording(path, source, fits[0].profile, 0.12, 1, fits).inspect()
    if not fits[0].usable:
        info.profile = "none"
        info.notes.append(f"cannot replay: {_no_lidar(source, chosen)}")
    return info


def _open(path: str | Path, profile: str | Path | Profile | None
          ) -> tuple[Path, BagSource | PcdFolder, Profile | None, list[ProfileFit]]:
    """(path, source, the profile asked for, the fits best first; none for a ``.pcd`` folder)."""
    from sensors.errors import UnknownLayoutError

    path = Path(path)
    if not path.exists():
        raise MissingDataError(path, "recording does not exist")
    chosen = profile if isinstance(profile, Profile) else load_profile(profile) if profile is not None else None
    if path.is_dir() and is_pcd_folder(path):
        return path, PcdFolder(path), chosen, []
    if not is_recording(path):
        raise UnknownLayoutError(path, "not a recording (rosbag2 folder or .mcap/.db3 file, ROS 1 .bag or folder of "
                                       ".bag files, folder of .pcd)")
    source = open_bag(path)
    types = {t: e.msgtype for t, e in source.topics.items()}
    return path, source, chosen, choose_profile(types) if chosen is None else [fit_profile(chosen, types)]


def _no_lidar(source: BagSource, chosen: Profile | None) -> str:
    """Why no profile fits: the profile's missing LiDAR topic and the PointCloud2 topics there are."""
    clouds = sorted(t for t, e in source.topics.items() if e.msgtype == POINTCLOUD)
    which = f"profile {chosen.name!r} expects {chosen.lidar}" if chosen else "no shipped profile fits"
    has = f"PointCloud2 topics: {', '.join(clouds)} (write a profile, docs/replay.md)" if clouds else "no PointCloud2 topic at all"
    return f"no LiDAR topic: {which}; the recording has {has}"
