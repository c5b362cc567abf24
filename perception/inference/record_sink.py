"""A replay sink that keeps what the scoring needs: replayed frames joined with their ground truth.

:func:`perception.replay.runner.replay` hands each frame read from a recording and its prediction
to its sinks; :class:`RecordSink` turns them into :class:`FrameRecord` s for
:func:`perception.inference.scoring.score_records`, exactly as the evaluation does for a dataset.
The ground truth comes from the drive the recording was made of (a simulated drive): the
annotations of the frame with the same LiDAR timestamp (microseconds). Depth ground truth is the
replayed frame's LiDAR projected into its cameras, as for real data.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from perception.config import ModelConfig
from perception.data import frame_to_sample
from perception.inference.records import FrameRecord, make_record
from perception.model.prediction import Prediction
from sensors.frame import Annotations, Frame


class RecordSink:
    """Keeps every replayed frame and prediction; :meth:`records` joins them with their truth.

    ``write`` only stores (it runs inside the replay's timed ``write`` stage, which must measure
    the replay, not the scoring); the targets are made afterwards. Memory grows with the number of
    frames: meant for short drives (the demo), not hour-long recordings.

    Args:
        truth: LiDAR timestamp (us) -> the annotations of that frame (boxes, BEV map, driver labels).
            A replayed frame without an entry is scored without truth and counted by :meth:`records`.
        config: the model's configuration (cameras, input size, segmentation grid).
        thresholds: the BEV threshold sweep (see :mod:`perception.inference.records`).

    Attributes:
        frames: (frame, prediction) of every replayed frame, in replay order.
    """

    def __init__(self, truth: Mapping[int, Annotations], config: ModelConfig, thresholds: np.ndarray) -> None:
        self.truth, self.config, self.thresholds = truth, config, np.asarray(thresholds)
        self.frames: list[tuple[Frame, Prediction]] = []

    def write(self, frame: Frame, prediction: Prediction) -> None:
        """Keep ``frame`` and its ``prediction``."""
        self.frames.append((frame, prediction))

    def with_truth(self, frame: Frame) -> Frame:
        """``frame`` with the annotations of the truth frame of the same timestamp (None if none);
        dense depth annotations are dropped, the depth truth being the frame's LiDAR."""
        annotations = self.truth.get(frame.timestamp)
        return replace(frame, annotations=None if annotations is None else replace(annotations, depth={}))

    def records(self) -> tuple[list[FrameRecord], int]:
        """(the record of every kept frame in replay order, the number of frames without truth)."""
        records = []
        for index, (frame, prediction) in enumerate(self.frames):
            scored = self.with_truth(frame)
            sample = frame_to_sample(scored, self.config)
            records.append(make_record(index, scored, sample, prediction, self.config.cameras, self.thresholds))
        return records, sum(frame.timestamp not in self.truth for frame, _ in self.frames)
