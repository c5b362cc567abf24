"""Write a cabin camera stream in the DMD layout: a face video and an OpenLABEL annotation file.

``write_dmd(stream, root, name)`` writes ``<root>/<name>/<name>_rgb_face.mp4`` (MPEG-4 part 2,
OpenCV's ``mp4v``) and ``<root>/<name>/<name>_rgb_ann_driver.json`` (OpenLABEL 1.0: the face
stream with its uri relative to ``root``, frame count and zero shift; one action per DMD
``<level>/<label>`` used, with the frame intervals where it holds, see
:func:`sensors.dmd.labels.dmd_levels`; the per-frame ``frames`` index). The recording folder is
written beside its final place and renamed into it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import cv2

from sensors.atomic import atomic_dir
from sensors.dmd.labels import dmd_levels
from sensors.frame import Camera, DriverLabels

SCHEMA_VERSION = "1.0.0"


def _runs(frames: list[int]) -> list[dict[str, int]]:
    """Inclusive frame intervals of sorted frame numbers."""
    out: list[dict[str, int]] = []
    for k in frames:
        if out and out[-1]["frame_end"] == k - 1:
            out[-1]["frame_end"] = k
        else:
            out.append({"frame_start": k, "frame_end": k})
    return out


def write_dmd(stream: Iterable[tuple[Camera, DriverLabels]], root: Path, name: str, fps: float = 10.0) -> Path:
    """Write the cabin images and labels of ``stream`` (consecutive frames at ``fps``) as the DMD
    recording ``name`` under ``root``; returns the annotation file.

    Raises:
        ValueError: an empty stream, images of different sizes, ``fps`` <= 0, a name with a path
            separator.
        FileExistsError: ``<root>/<name>`` exists.
    """
    if fps <= 0 or not name or "/" in name or os.sep in name:
        raise ValueError(f"write_dmd: need fps > 0 and a plain recording name, got {fps}, {name!r}")
    root = Path(root)
    final = root / name
    if final.exists():
        raise FileExistsError(f"{final}: exists; refusing to replace it")
    video_name = f"{name}_rgb_face.mp4"
    with atomic_dir(final) as temp:
        temp.mkdir()
        writer = None
        actions: dict[str, list[int]] = {}
        count = 0
        for camera, labels in stream:
            h, w = camera.image.shape[:2]
            if writer is None:
                size = (w, h)
                writer = cv2.VideoWriter(str(temp / video_name), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise ValueError(f"{temp / video_name}: OpenCV cannot write mp4v video here")
            elif (w, h) != size:
                raise ValueError(f"write_dmd: frame {count} is {w}x{h}, the first was {size[0]}x{size[1]}")
            writer.write(camera.image[:, :, ::-1])
            for level, label in dmd_levels(labels).items():
                actions.setdefault(f"{level}/{label}", []).append(count)
            count += 1
        if writer is None:
            raise ValueError("write_dmd: no frames to write")
        writer.release()
        uids = {action_type: str(uid) for uid, action_type in enumerate(sorted(actions))}
        frames: dict[str, dict] = {str(k): {"actions": {}} for k in range(count)}
        for action_type, ks in actions.items():
            for k in ks:
                frames[str(k)]["actions"][uids[action_type]] = {}
        document = {"openlabel": {
            "metadata": {"schema_version": SCHEMA_VERSION, "name": name, "annotator": "perception simulator"},
            "streams": {"face_camera": {
                "description": "driver-facing camera", "type": "camera", "uri": f"{name}/{video_name}",
                "stream_properties": {"total_frames": count, "sync": {"frame_shift": 0}},
            }},
            "frame_intervals": [{"frame_start": 0, "frame_end": count - 1}],
            "actions": {uids[t]: {"name": t, "type": t, "frame_intervals": _runs(actions[t])} for t in sorted(actions)},
            "frames": frames,
        }}
        annotation = temp / f"{name}_rgb_ann_driver.json"
        annotation.write_text(json.dumps(document))
    return final / annotation.name
