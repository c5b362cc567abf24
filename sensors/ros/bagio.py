"""Raw messages of a recording and one type store that decodes every type it can.

Opens rosbag2 recordings (a folder with ``metadata.yaml``, split or not, or a single ``.mcap``
or ``.db3`` file) and ROS 1 ``.bag`` files (one, or a folder of the parts of a split recording,
read as one) through ``rosbags.highlevel.AnyReader``. Message
types are resolved per connection: the definition stored in the bag when there is one,
otherwise the ROS 2 Humble (rosbag2) or ROS 1 Noetic (``.bag``) type store with
``vision_msgs``; a type in neither is *unknown* and its topic cannot be used.

An MCAP file whose index cannot be read (a recording cut short: no summary, a chunk cut in the
middle) is read record by record with the ``mcap`` library up to the damage instead; the
messages before it are used and :attr:`BagSource.notes` says where reading stopped.
"""
from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.interfaces import MessageDefinitionFormat
from rosbags.typesys import (
    Stores,
    get_types_from_idl,
    get_types_from_msg,
    get_typestore,
)
from rosbags.typesys.store import Typestore

from sensors.errors import CorruptDataError, MissingDataError
from sensors.ros.types import typestore

BAG_SUFFIXES = (".mcap", ".db3", ".bag")


@dataclass
class TopicEntry:
    """One topic of a recording: message type, message count and where its type comes from
    (``bag``: the bag's own definition, ``typestore``: the ROS type store, None: unknown)."""

    msgtype: str
    count: int
    definition: str | None


@dataclass
class RawMessage:
    """One serialized message: topic, type, log (receive) time in nanoseconds, bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes | memoryview


def _types_of_definition(fmt: Any, text: str, msgtype: str) -> dict[str, Any]:
    """Types of one stored definition (``.msg`` text or IDL, possibly several IDL files)."""
    if fmt == MessageDefinitionFormat.MSG:
        return dict(get_types_from_msg(text, msgtype))
    types: dict[str, Any] = {}
    separator = "=" * 80 + "\n"
    for part in text.split(separator)[1:] if text.startswith(f"{separator}IDL: ") else [text]:
        types.update(get_types_from_idl(part.split("\n", 1)[1] if part.startswith("IDL: ") else part))
    return types


@dataclass
class BagSource:
    """A recording opened for reading (see the module docstring).

    Attributes:
        path: the recording.
        ros1: a ROS 1 bag (messages in ROS 1 serialization).
        topics: topic -> :class:`TopicEntry`.
        start_ns, end_ns: log time of the first and last message, nanoseconds.
        notes: what went wrong while opening or reading (a truncated file...), one line each.
        store: the type store that decodes every known type of the recording.
        indexed: the file's index is readable (else MCAP records are read in file order).

    Raises (from :func:`open_bag`):
        MissingDataError: the path does not exist.
        CorruptDataError: no reader can open it.
    """

    path: Path
    ros1: bool
    topics: dict[str, TopicEntry]
    start_ns: int
    end_ns: int
    store: Typestore
    notes: list[str] = field(default_factory=list)
    indexed: bool = True

    @property
    def duration_s(self) -> float:
        return max(self.end_ns - self.start_ns, 0) * 1e-9

    def messages(self, topics: Collection[str]) -> Iterator[RawMessage]:
        """Serialized messages of ``topics`` (with a known type) in log-time order. Reading stops
        at damage (a truncated file); the reason is appended to :attr:`notes`."""
        wanted = {t for t in topics if t in self.topics and self.topics[t].definition is not None}
        if not self.indexed:
            yield from self._mcap_messages(wanted)
            return
        with AnyReader(_reader_paths(self.path), default_typestore=None if self.ros1 else typestore("humble")) as reader:
            connections = [c for c in reader.connections if c.topic in wanted]
            if not connections:
                return
            try:
                for connection, log_time, data in reader.messages(connections=connections):
                    yield RawMessage(connection.topic, connection.msgtype, int(log_time), data)
            except Exception as error:  # noqa: BLE001 - any damage ends reading, it is reported
                self.notes.append(f"reading stopped early: {type(error).__name__}: {error}")

    def _mcap_messages(self, wanted: set[str]) -> Iterator[RawMessage]:
        from mcap.reader import NonSeekingReader

        for file in _mcap_files(self.path):
            with open(file, "rb") as stream:
                reader = NonSeekingReader(stream, validate_crcs=False)
                try:
                    for schema, channel, message in reader.iter_messages(topics=list(wanted) or None, log_time_order=False):
                        if channel.topic in wanted and schema is not None:
                            yield RawMessage(channel.topic, schema.name, int(message.log_time), message.data)
                except Exception as error:  # noqa: BLE001 - the damage is where reading ends
                    self.notes.append(f"{file.name}: reading stopped at damaged data ({type(error).__name__}: "
                                      f"{error or 'file ends inside a record'}); the messages before it are used")
                    return

    def decode(self, message: RawMessage) -> Any:
        """The message object of a :class:`RawMessage`.

        Raises:
            CorruptDataError: the bytes do not deserialize as the message type.
        """
        try:
            if self.ros1:
                return self.store.deserialize_ros1(message.data, message.msgtype)
            return self.store.deserialize_cdr(message.data, message.msgtype)
        except Exception as error:  # noqa: BLE001 - rosbags raises several kinds on bad bytes
            raise CorruptDataError(self.path, f"{message.topic}: {message.msgtype} message at {message.log_time_ns} ns "
                                              f"does not deserialize ({type(error).__name__})") from None


def is_ros1_folder(path: Path) -> bool:
    """A folder of ROS 1 ``.bag`` files (a recording split by ``rosbag record --split``)."""
    return path.is_dir() and not (path / "metadata.yaml").exists() and any(path.glob("*.bag"))


def _reader_paths(path: Path) -> list[Path]:
    """What AnyReader opens: the path, or the ``.bag`` files of a split ROS 1 folder."""
    return sorted(path.glob("*.bag")) if is_ros1_folder(path) else [path]


def _mcap_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".mcap" else []
    return sorted(path.glob("*.mcap"))


def _store(ros1: bool, definitions: dict[str, tuple[Any, str]], msgtypes: set[str], notes: list[str]
           ) -> tuple[Typestore, dict[str, str | None]]:
    """A store with the ROS types of the distribution, overridden by the bag's definitions, and
    where each of ``msgtypes`` comes from; a stored definition that does not parse falls back to
    the type store and is noted in ``notes``."""
    base = typestore("noetic" if ros1 else "humble")
    types: dict[str, Any] = dict(base.fielddefs)
    origin: dict[str, str | None] = {t: ("typestore" if t in types else None) for t in msgtypes}
    for msgtype, (fmt, text) in definitions.items():
        try:
            parsed = _types_of_definition(fmt, text, msgtype)
        except Exception as error:  # noqa: BLE001 - rosbags' parsers raise several kinds
            notes.append(f"{msgtype}: the definition stored in the recording does not parse ({type(error).__name__}); "
                         f"{'the type store is used' if origin[msgtype] else 'the type is unknown'}")
            continue
        types.update(parsed)
        origin[msgtype] = "bag"
    store = get_typestore(Stores.EMPTY)
    store.register(types)
    return store, origin


def open_bag(path: str | Path) -> BagSource:
    """Open a recording for reading (see the module docstring).

    Raises:
        MissingDataError: ``path`` does not exist.
        CorruptDataError: the recording cannot be opened (the reason is in the message).
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(path, "recording does not exist")
    ros1 = path.suffix == ".bag" or is_ros1_folder(path)
    try:
        reader = AnyReader(_reader_paths(path), default_typestore=None if ros1 else typestore("humble"))
        reader.open()
    except Exception as error:  # noqa: BLE001 - rosbags raises several kinds (AnyReaderError, ReaderError...)
        if _mcap_files(path) and path.suffix != ".bag":
            return _open_damaged_mcap(path, f"the index cannot be read ({error}); reading records in file order")
        raise CorruptDataError(path, f"cannot open the recording: {error}") from None
    try:
        definitions = {c.msgtype: (c.msgdef.format, c.msgdef.data) for c in reader.connections
                       if c.msgdef.format != MessageDefinitionFormat.NONE and c.msgdef.data}
        counts: dict[str, int] = {}
        msgtypes: dict[str, str] = {}
        for connection in reader.connections:
            counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
            msgtypes[connection.topic] = connection.msgtype
        start, end = reader.start_time, reader.end_time
    finally:
        reader.close()
    notes: list[str] = []
    store, origin = _store(ros1, definitions, set(msgtypes.values()), notes)
    topics = {t: TopicEntry(msgtypes[t], counts[t], origin[msgtypes[t]]) for t in sorted(msgtypes)}
    return BagSource(path, ros1, topics, int(start), int(end) if counts else int(start), store, notes)


def _open_damaged_mcap(path: Path, note: str) -> BagSource:
    """Scan the readable records of damaged MCAP file(s) for channels and counts."""
    from mcap.reader import NonSeekingReader

    definitions: dict[str, tuple[Any, str]] = {}
    msgtypes: dict[str, str] = {}
    counts: dict[str, int] = {}
    start, end = None, None
    for file in _mcap_files(path):
        with open(file, "rb") as stream:
            try:
                for schema, channel, message in NonSeekingReader(stream, validate_crcs=False).iter_messages(log_time_order=False):
                    if schema is None:
                        continue
                    msgtypes[channel.topic] = schema.name
                    counts[channel.topic] = counts.get(channel.topic, 0) + 1
                    if schema.encoding == "ros2msg" and schema.data:
                        definitions[schema.name] = (MessageDefinitionFormat.MSG, schema.data.decode())
                    elif schema.encoding == "ros2idl" and schema.data:
                        definitions[schema.name] = (MessageDefinitionFormat.IDL, schema.data.decode())
                    start = message.log_time if start is None else min(start, message.log_time)
                    end = message.log_time if end is None else max(end, message.log_time)
            except Exception as error:  # noqa: BLE001 - the damage is where the scan ends
                if not msgtypes:
                    raise CorruptDataError(file, f"not a readable MCAP file: {note.split(' (')[0]} and no message "
                                                 f"can be read ({type(error).__name__})") from None
    notes = [note]
    store, origin = _store(False, definitions, set(msgtypes.values()), notes)
    topics = {t: TopicEntry(msgtypes[t], counts[t], origin[msgtypes[t]]) for t in sorted(msgtypes)}
    return BagSource(path, False, topics, int(start or 0), int(end or 0), store, notes, indexed=False)
