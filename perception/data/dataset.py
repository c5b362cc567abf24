"""A torch Dataset over a sequence of :class:`sensors.frame.Frame`."""
from __future__ import annotations

from collections.abc import Sequence

from torch.utils.data import Dataset

from perception.config import ModelConfig
from perception.data.batch import Sample
from perception.data.transforms import frame_to_sample
from sensors.frame import Frame


class FrameDataset(Dataset[Sample]):
    """Maps index -> :class:`Sample` (converted on access; frames are read lazily if the
    sequence is lazy). Use :func:`perception.data.collate_frames` as ``collate_fn``."""

    def __init__(self, frames: Sequence[Frame], config: ModelConfig) -> None:
        self.frames = frames
        self.config = config

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        return frame_to_sample(self.frames[index], self.config)

