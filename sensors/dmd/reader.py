"""Read the Driver Monitoring Dataset (DMD) layout: annotation files beside the face-camera videos.

Layout (as distributed: group / subject / session folders; any folder depth works)::

    root/gA/1/s1/gA_1_s1_<date>_rgb_ann_distraction.json     OpenLABEL (or VCD 4) annotations
    root/gA/1/s1/gA_1_s1_<date>_rgb_face.mp4                 face camera video (RGB or IR)

Every ``*_ann_*.json`` under ``root`` is one recording. Its face video is the face stream's
``uri`` taken relative to ``root``, else the file of that name beside the annotation, else (no
face stream in the file) ``<name before _ann_>_face.mp4`` beside it. Frames are decoded with
OpenCV (BGR -> RGB) and become :class:`sensors.frame.Frame` s holding only the cabin camera and
its :class:`sensors.frame.DriverLabels` (see :mod:`sensors.dmd.labels`); only face frames with
at least one label are read. Conversions: timestamp = face frame / video fps (microseconds, from
0 per recording), scene = recording name, ``ego_to_global`` identity; DMD publishes no cabin
calibration, so the camera gets a nominal pinhole (focal length = image width, principal point at
the centre) and an identity ``cam_to_ego`` (the driver head uses neither).

Bad input: a missing or undecodable video raises a :class:`sensors.errors.SensorDataError`
naming the annotation file and the video; labels of frames beyond the end of the video are
dropped with one warning line naming both files (annotation tools may run past a short video).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sensors.dmd.labels import driver_labels
from sensors.dmd.openlabel import DmdAnnotation, read_annotation
from sensors.errors import CorruptDataError, MissingDataError, warn
from sensors.frame import Annotations, Camera, DriverLabels, Frame, FrameSequence

CABIN = "CAM_CABIN"
#: Annotation files of the DMD layout.
ANNOTATION_PATTERN = "*_ann_*.json"


def find_annotations(root: Path) -> list[Path]:
    """Every DMD annotation file under ``root``, sorted."""
    return sorted(p for p in Path(root).rglob(ANNOTATION_PATTERN) if p.is_file())


def _face_video(root: Path, annotation: DmdAnnotation) -> Path:
    if annotation.face_uri:
        candidates = list(dict.fromkeys([root / annotation.face_uri, annotation.path.parent / Path(annotation.face_uri).name]))
    else:
        stem = annotation.path.name.split("_ann_")[0]
        candidates = [annotation.path.parent / f"{stem}_face.mp4"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingDataError(annotation.path, f"face video {candidates[-1].name} not found (looked for "
                                            f"{', '.join(str(c) for c in candidates)})")


@dataclass
class _Video:
    """An open face video, decoded forward (seeking only when a frame is asked out of order)."""

    path: Path
    capture: cv2.VideoCapture
    next_frame: int = 0

    def read(self, index: int) -> np.ndarray:
        if index != self.next_frame:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = self.capture.read()
        if not ok or image is None:
            raise CorruptDataError(self.path, f"frame {index} does not decode")
        self.next_frame = index + 1
        return np.ascontiguousarray(image[:, :, ::-1])


class DmdRecording(Sequence[tuple[Camera, DriverLabels]]):
    """The labelled face frames of one recording as (cabin camera, labels), in time order.

    Args:
        root: dataset root (face video uris are relative to it).
        annotation_path: the recording's annotation file.
        stride: keep every ``stride``-th face frame (DMD videos run at ~30 fps).
    """

    def __init__(self, root: Path, annotation_path: Path, stride: int = 1) -> None:
        annotation = read_annotation(annotation_path)
        self.name = annotation.name
        self.annotation_path = Path(annotation_path)
        self.video_path = _face_video(Path(root), annotation)
        capture = cv2.VideoCapture(str(self.video_path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        self.fps = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
        if count <= 0 or not self.fps > 0:
            raise CorruptDataError(self.video_path, f"face video of {annotation_path.name} does not open as a video")
        self._video = _Video(self.video_path, capture)
        beyond = [k for k in annotation.labels if k >= count]
        if beyond:
            warn(annotation_path, f"labels of face frames {min(beyond)}..{max(beyond)} lie beyond the {count} frames "
                                  f"of {self.video_path.name}; they are ignored")
        self.frames: list[int] = []
        self.labels: list[DriverLabels] = []
        for k in sorted(annotation.labels):
            labels = driver_labels(annotation.labels[k])
            if k < count and k % stride == 0 and labels is not None:
                self.frames.append(k)
                self.labels.append(labels)

    def __len__(self) -> int:
        return len(self.frames)

    def timestamp(self, index: int) -> int:
        """Capture time (microseconds from the recording's first frame) of item ``index``."""
        return round(self.frames[index] * 1e6 / self.fps)

    def __getitem__(self, index: int) -> tuple[Camera, DriverLabels]:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}: frame {index} out of range [0, {len(self)})")
        image = self._video.read(self.frames[index])
        h, w = image.shape[:2]
        k = np.array([[w, 0.0, w / 2.0], [0.0, w, h / 2.0], [0.0, 0.0, 1.0]])
        return Camera(CABIN, image, k, np.eye(4), self.timestamp(index)), self.labels[index]


class DmdDataset(FrameSequence):
    """Every labelled face frame of the DMD recordings under ``root`` (or its ``split`` subfolder),
    recording by recording, as cabin-only frames.

    Args:
        root: DMD root.
        split: None or ``"all"``: every recording; otherwise a subfolder of ``root`` (e.g. a group
            ``gA``: DMD defines no official splits).
        stride: keep every ``stride``-th face frame.

    Raises:
        MissingDataError: no such split folder, no annotation file, a missing face video.
    """

    def __init__(self, root: Path, split: str | None = None, stride: int = 1) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.root = Path(root)
        folder = self.root if split in (None, "all") else self.root / str(split)
        if not folder.is_dir():
            raise MissingDataError(folder, "no such folder: DMD has no official splits; pass split 'all' or a subfolder "
                                           "of the root (e.g. a group gA)")
        paths = find_annotations(folder)
        if not paths:
            raise MissingDataError(folder, f"no DMD annotation file ({ANNOTATION_PATTERN})")
        self.recordings = [DmdRecording(self.root, p, stride) for p in paths]
        self._index = [(r, i) for r, rec in enumerate(self.recordings) for i in range(len(rec))]

    def __len__(self) -> int:
        return len(self._index)

    def read(self, index: int) -> Frame:
        """The ``index``-th annotated cabin frame (recordings in name order, then frame order)."""
        r, i = self._index[index]
        recording = self.recordings[r]
        camera, labels = recording[i]
        return Frame(token=f"{recording.name}/{recording.frames[i]:06d}", scene=recording.name,
                     timestamp=camera.timestamp, ego_to_global=np.eye(4), cabin=camera,
                     annotations=Annotations(driver=labels))

