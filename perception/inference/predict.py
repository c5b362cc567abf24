"""Model inference over evaluation frames and cabin streams, producing gatherable records.

The model runs in eval mode under ``torch.inference_mode``, one forward pass per batch of
indices given by the caller (see :func:`perception.inference.sharding.shard_blocks`: the same
batches whatever the number of ranks, hence bit-identical records).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from perception.config import ModelConfig
from perception.data import (
    SampleInputs,
    cabin_tensor,
    collate_inputs,
    frame_to_inputs,
    frame_to_sample,
)
from perception.inference.records import DriverObservation, FrameRecord, make_record
from perception.inference.timing import StageTimer
from perception.model.network import Network
from perception.model.prediction import Prediction
from sensors.frame import Camera, DriverLabels, Frame

#: Called with (index, frame, prediction) of every frame right after it is predicted.
FrameCallback = Callable[[int, Frame, Prediction], None]


def predict_batch(model: Network, frames: Sequence[Frame], device: torch.device, timer: StageTimer,
                  targets: bool = False) -> tuple[list[SampleInputs], list[Prediction]]:
    """One forward pass over ``frames``: their per-frame tensors and decoded predictions, in order.

    The one inference path of every consumer (evaluation, replay): :func:`frame_to_inputs` (with
    ``targets``: :func:`frame_to_sample`, inputs plus the targets scoring compares with) and
    :func:`collate_inputs` (stage ``preprocessing``), the forward pass under ``torch.inference_mode``
    (``model``), ``model.decode`` (``postprocessing``); the stages are timed by ``timer``.
    A sensor missing from a frame is marked missing in its inputs, and the model answers from the
    other modality. The model must be in eval mode.
    """
    config: ModelConfig = model.config
    convert = frame_to_sample if targets else frame_to_inputs
    with timer.stage("preprocessing"):
        samples = [convert(f, config) for f in frames]
        inputs = collate_inputs(samples).to(device)
    with torch.inference_mode(), timer.stage("model"):
        outputs = model(inputs)
    with timer.stage("postprocessing"):
        predictions = model.decode(outputs)
    return samples, predictions


def predict_frames(model: Network, frames: Sequence[Frame], batches: Sequence[Sequence[int]], device: torch.device,
                   thresholds: np.ndarray, timer: StageTimer | None = None,
                   on_frame: FrameCallback | None = None, warmup: bool = True,
                   progress: bool = False) -> list[FrameRecord]:
    """Run ``model`` on the frames of each batch of indices and return their records, in that order.

    With ``warmup`` the first batch is run once more before anything is kept or timed: the first
    forward pass of a process pays one-off set-up costs and its floats differ in the last bits from
    every later pass, which would make results depend on how frames are sharded.

    Args:
        thresholds: BEV threshold sweep used to encode the predicted maps (see :mod:`records`).
        timer: per-stage timing; attached to the model here and detached at the end.
        on_frame: side work per frame (drawing samples), not timed.
        progress: show a progress bar on a terminal (stderr).
    """
    config: ModelConfig = model.config
    model.eval()
    if warmup and batches:
        with torch.inference_mode():
            model(collate_inputs([frame_to_inputs(frames[i], config) for i in batches[0]]).to(device))
    timer = timer or StageTimer(device)
    timer.attach(model)
    records: list[FrameRecord] = []
    try:
        for chunk in tqdm(batches, desc="evaluating", unit="batch", disable=None if progress else True):
            chosen = [frames[i] for i in chunk]
            with timer.stage("total"):
                samples, predictions = predict_batch(model, chosen, device, timer, targets=True)
            timings = {k: v / len(chunk) for k, v in timer.take().items()}
            for i, frame, sample, prediction in zip(chunk, chosen, samples, predictions):
                record = make_record(i, frame, sample, prediction, config.cameras, thresholds)
                record.timings_s = dict(timings)
                records.append(record)
                if on_frame is not None:
                    on_frame(i, frame, prediction)
    finally:
        timer.detach()
    return records


def predict_cabin(model: Network, images: Sequence[Camera], device: torch.device) -> list[Prediction]:
    """Driver-head predictions of cabin camera images (one batch), without the street branches.

    Uses the same preprocessing as :func:`perception.data.frame_to_inputs` (:func:`cabin_tensor`) and
    the network's own cabin path (``model.driver``: shared image encoder, pooled -> driver head).

    Raises:
        ValueError: the model has no driver-monitoring head.
    """
    config: ModelConfig = model.config
    x = torch.stack([cabin_tensor(c.image, config.image) for c in images]).to(device)
    model.eval()
    with torch.inference_mode():
        return model.decode(model.driver(x))


def predict_cabin_stream(model: Network, stream: Sequence[tuple[Camera, DriverLabels]],
                         batches: Sequence[Sequence[int]], name: str,
                         device: torch.device) -> list[tuple[int, DriverObservation]]:
    """(index, observation) of the cabin images ``stream[i]``, one forward pass per batch of indices;
    ``name`` names the stream."""
    out: list[tuple[int, DriverObservation]] = []
    for chunk in batches:
        items = [stream[i] for i in chunk]
        for i, (camera, labels), p in zip(chunk, items, predict_cabin(model, [c for c, _ in items], device)):
            out.append((i, DriverObservation(name, camera.timestamp * 1e-6, float(p.eye_closed), np.asarray(p.gaze),
                                             np.asarray(p.head_pose, np.float64), float(p.phone), labels)))
    return out
