"""Frames to model tensors: :class:`Sample`, :class:`Batch`, :func:`collate_frames`, :class:`FrameDataset`."""
from perception.data.batch import Batch, Sample, collate_frames
from perception.data.dataset import FrameDataset, frames_to_batch
from perception.data.transforms import frame_to_sample

__all__ = ["Batch", "FrameDataset", "Sample", "collate_frames", "frame_to_sample", "frames_to_batch"]
