"""Parse a DMD annotation file: ASAM OpenLABEL 1.0 (root key ``openlabel``) or its predecessor
VCD 4 (root key ``vcd``), as written by the DMD annotation tool.

What is read:

* the face camera stream ``face_camera`` (``streams`` at the root in OpenLABEL, under
  ``metadata.streams`` in VCD): its video ``uri``, ``stream_properties.total_frames`` and, for
  every stream, ``stream_properties.sync.frame_shift`` (frames the stream starts after the face
  camera). Annotation frame numbers count the frames of the aligned mosaic, which starts with the
  earliest camera, so face frame = annotation frame + min(0, every other stream's shift);
* ``actions``: each with ``type`` ``"<level>/<label>"`` and ``frame_intervals`` (inclusive
  ``frame_start`` .. ``frame_end``); objects and the per-frame ``frames`` index are not needed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from sensors.dmd.labels import READ_LEVELS
from sensors.errors import CorruptDataError, InvalidValueError

FACE_STREAM = "face_camera"


@dataclass
class DmdAnnotation:
    """The parts of one DMD annotation file this project uses.

    Attributes:
        path: the annotation file.
        name: the recording name (``openlabel.metadata.name`` / ``vcd.name``; else the file stem).
        face_uri: the face video's ``uri`` (None when the file names no face stream).
        face_frames: the face stream's ``total_frames`` (None when not given).
        face_offset: face frame = annotation frame + ``face_offset`` (<= 0).
        labels: face frame -> {level: label} for the levels in :data:`sensors.dmd.labels.READ_LEVELS`.
    """

    path: Path
    name: str
    face_uri: str | None
    face_frames: int | None
    face_offset: int
    labels: dict[int, dict[str, str]] = field(default_factory=dict)


def _int(value: object, path: Path, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or int(value) != value:
        raise CorruptDataError(path, f"{what} must be an integer, got {value!r}")
    return int(value)


#: Longest frame interval read (about 92 hours at 30 frames per second): a longer one is a broken
#: file, refused before its labels are expanded frame by frame.
MAX_INTERVAL_FRAMES = 10_000_000


def _intervals(raw: object, path: Path, what: str) -> list[tuple[int, int]]:
    if not isinstance(raw, list):
        raise CorruptDataError(path, f"{what}: frame_intervals must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or "frame_start" not in item or "frame_end" not in item:
            raise CorruptDataError(path, f"{what}: a frame interval needs frame_start and frame_end")
        start = _int(item["frame_start"], path, f"{what} frame_start")
        end = _int(item["frame_end"], path, f"{what} frame_end")
        if start < 0 or end < start:
            raise InvalidValueError(path, f"{what}: frame interval {start}..{end} is not 0 <= start <= end")
        if end - start + 1 > MAX_INTERVAL_FRAMES:
            raise InvalidValueError(path, f"{what}: frame interval {start}..{end} spans {end - start + 1} frames, "
                                          f"more than any recording ({MAX_INTERVAL_FRAMES}, 92 h at 30 fps)")
        out.append((start, end))
    return out


def read_annotation(path: Path) -> DmdAnnotation:
    """Parse the DMD annotation file ``path``.

    Raises:
        CorruptDataError: not JSON, no ``openlabel`` / ``vcd`` root, malformed streams, actions or
            frame intervals (the message names the action).
        InvalidValueError: an unknown label of a level that is read, two labels of one level on
            the same frame, a negative or reversed frame interval, or one longer than
            :data:`MAX_INTERVAL_FRAMES`.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptDataError(path, f"invalid JSON ({error})") from None
    root = document.get("openlabel", document.get("vcd")) if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise CorruptDataError(path, "not an OpenLABEL / VCD file (no 'openlabel' or 'vcd' object at the root)")
    metadata = root.get("metadata", {})
    streams = root.get("streams", metadata.get("streams", {}) if isinstance(metadata, dict) else {})
    if not isinstance(streams, dict):
        raise CorruptDataError(path, "streams must be an object")
    shifts = []
    face_uri = face_frames = None
    for name, stream in streams.items():
        if not isinstance(stream, dict):
            raise CorruptDataError(path, f"stream {name!r} must be an object")
        props = stream.get("stream_properties", {}) or {}
        sync = (props.get("sync", {}) or {}) if isinstance(props, dict) else None
        if not isinstance(sync, dict):
            raise CorruptDataError(path, f"stream {name}: stream_properties and its sync must be objects")
        shift = _int(sync.get("frame_shift", 0), path, f"stream {name} frame_shift")
        if name == FACE_STREAM:
            face_uri = stream.get("uri")
            if face_uri is not None and not isinstance(face_uri, str):
                raise CorruptDataError(path, f"stream {name}: uri must be a string")
            if "total_frames" in props:
                face_frames = _int(props["total_frames"], path, f"stream {name} total_frames")
        else:
            shifts.append(shift)
    name = (metadata.get("name") if isinstance(metadata, dict) else None) or root.get("name") or path.stem
    annotation = DmdAnnotation(path, str(name), face_uri, face_frames, min([0, *shifts]))
    actions = root.get("actions", {})
    if not isinstance(actions, dict):
        raise CorruptDataError(path, "actions must be an object keyed by uid")
    for uid, action in actions.items():
        if not isinstance(action, dict) or not isinstance(action.get("type"), str) or "/" not in action["type"]:
            raise CorruptDataError(path, f"action {uid}: type must be a '<level>/<label>' string")
        level, label = action["type"].split("/", 1)
        if level not in READ_LEVELS:
            continue  # talking, hands, blinks... or a level of a newer release: nothing scored here
        if label not in READ_LEVELS[level]:
            raise InvalidValueError(path, f"action {uid}: unknown label {label!r} of level {level!r} "
                                          f"(known: {sorted(READ_LEVELS[level])})")
        for start, end in _intervals(action.get("frame_intervals", []), path, f"action {uid} ({action['type']})"):
            for frame in range(start + annotation.face_offset, end + annotation.face_offset + 1):
                if frame < 0:
                    continue  # before the face camera started
                labels = annotation.labels.setdefault(frame, {})
                if labels.get(level, label) != label:
                    raise InvalidValueError(path, f"face frame {frame}: level {level!r} has two labels "
                                                  f"({labels[level]!r} and {label!r})")
                labels[level] = label
    return annotation

