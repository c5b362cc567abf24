"""Frames to model tensors: inputs (:class:`SampleInputs`, :class:`Inputs`) apart from training
targets (:class:`Sample`, :class:`Batch`), their collation, and :class:`FrameDataset`."""
from perception.data.batch import (
           Batch,
           Inputs,
           Sample,
           SampleInputs,
           cabin_inputs,
           collate_frames,
           collate_inputs,
)
from perception.data.dataset import FrameDataset
from perception.data.transforms import cabin_tensor, frame_to_inputs, frame_to_sample

__all__ = ["Batch", "FrameDataset", "Inputs", "Sample", "SampleInputs", "cabin_inputs", "cabin_tensor",
           "collate_frames", "collate_inputs", "frame_to_inputs", "frame_to_sample"]
