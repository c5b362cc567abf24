"""The replay loop: each frame of a recording through the model, its predictions to the sinks.

Inference is the evaluation's (:func:`perception.inference.predict.predict_batch`: the same
preprocessing, forward pass and decoding), one frame per forward pass. Every frame is timed per
stage (:data:`STAGES`). Two modes: as fast as possible (every frame), or paced by the recorded
timestamps (:func:`perception.replay.pacing.paced`; frames the model cannot keep up with are
dropped and counted). A first Ctrl-C (SIGINT) ends the replay after the frame in progress, so
that the sinks finish their files with the frames done; a second one interrupts at once.
"""
from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from perception.inference.predict import predict_batch
from perception.inference.timing import StageTimer
from perception.model.network import Network
from perception.model.prediction import Prediction
from perception.replay.pacing import paced
from sensors.frame import Frame

#: Timed stages of a replayed frame, in pipeline order: reading and synchronising the recording,
#: frame -> tensors, forward pass, decoding the heads, writing every output.
STAGES: tuple[str, ...] = ("decode", "preprocess", "model", "postprocess", "write")
#: :class:`StageTimer` stage names of :func:`predict_batch` -> ours.
_TIMER_STAGES = {"preprocessing": "preprocess", "model": "model", "postprocessing": "postprocess"}


class FrameSink(Protocol):
    """Where the predictions of each replayed frame go (a results file, a live stream ...)."""

    def write(self, frame: Frame, prediction: Prediction) -> None:
        """Record ``frame`` (the model's input) and its ``prediction``."""


@dataclass
class ReplayStats:
    """What a replay did.

    Attributes:
        frames: frames run through the model.
        dropped: frames skipped in real-time mode because a newer one was due.
        missing: sensor (``lidar`` or a camera name of the model) -> processed frames without it.
        frames_missing_sensor: processed frames without at least one of those sensors.
        stage_s: stage name (:data:`STAGES`) -> wall-clock seconds of each processed frame.
        stage_cpu_s: the same in process CPU seconds (all threads; steadier than wall time on a
            shared machine).
        wall_s: wall-clock seconds of the loop (after the warm-up pass).
        warmup_s: wall-clock seconds of the untimed warm-up pass over the first frame (one-off
            costs: JIT compilation or loading cached kernels, allocator and thread-pool set-up).
        interrupted: the replay was stopped by Ctrl-C before the end of the recording.
    """

    frames: int = 0
    dropped: int = 0
    missing: Counter = field(default_factory=Counter)
    frames_missing_sensor: int = 0
    stage_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    stage_cpu_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    wall_s: float = 0.0
    warmup_s: float = 0.0
    interrupted: bool = False

    def latency_ms(self) -> dict[str, tuple[float, float]]:
        """Stage -> (median, p99) milliseconds over the processed frames (stages with data only)."""
        return {s: (float(np.median(v)) * 1e3, float(np.percentile(v, 99)) * 1e3)
                for s, v in self.stage_s.items() if v}


class _WallAndCpuTimer(StageTimer):
    """A :class:`StageTimer` that also sums process CPU time per stage (:meth:`take_cpu`)."""

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self._cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            with super().stage(name):
                yield
        finally:
            self._cpu[name] = self._cpu.get(name, 0.0) + time.process_time() - start

    def take_cpu(self) -> dict[str, float]:
        """CPU seconds per stage since the last call, then reset."""
        out, self._cpu = self._cpu, {}
        return out


class _Interrupt:
    """Set by the first SIGINT; the handler is the previous one again afterwards."""

    def __init__(self) -> None:
        self.requested = False


@contextmanager
def _stop_on_sigint() -> Iterator[_Interrupt]:
    flag = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        flag.requested = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _timed(frames: Iterable[Frame]) -> Iterator[tuple[Frame, tuple[float, float]]]:
    """(frame, (wall, CPU) seconds spent producing it: reading, decoding, synchronising)."""
    it = iter(frames)
    while True:
        start, start_cpu = time.perf_counter(), time.process_time()
        frame = next(it, None)
        elapsed = (time.perf_counter() - start, time.process_time() - start_cpu)
        if frame is None:
            return
        yield frame, elapsed


def _count_missing(frame: Frame, cameras: Sequence[str], stats: ReplayStats) -> None:
    missing = ([] if frame.lidar is not None else ["lidar"]) + [c for c in cameras if c not in frame.cameras]
    stats.missing.update(missing)
    stats.frames_missing_sensor += bool(missing)


def replay(frames: Iterable[Frame], model: Network, sinks: Sequence[FrameSink], device: torch.device,
           realtime: bool = False, progress: bool = True, total: int | None = None) -> ReplayStats:
    """Run ``model`` on every frame of ``frames`` (in order) and hand each prediction to ``sinks``.

    The first frame is run once more before anything is timed (warm-up). A sensor missing from a
    frame is missing for the model, which answers from the other modality.

    Args:
        frames: the recording's frames in LiDAR time order (e.g. a ``Recording``).
        realtime: pace by the recorded timestamps and drop frames the model cannot keep up with.
        progress: show a progress bar on stderr.
        total: number of frames, for the progress bar (default: ``len(frames)`` when it has one).

    Returns:
        The statistics; ``interrupted`` when Ctrl-C stopped it (the sinks have the frames done).
    """
    model.eval()
    cameras = model.config.cameras
    stats = ReplayStats()
    source = _timed(frames)
    first = next(source, None)
    if first is None:
        return stats
    warmup_start = time.perf_counter()
    predict_batch(model, [first[0]], device, StageTimer(device))  # warm-up, reported apart
    stats.warmup_s = time.perf_counter() - warmup_start
    timer = _WallAndCpuTimer(device)
    items: Iterable[tuple[tuple[Frame, tuple[float, float]], int]] = (
        paced(chain([first], source), lambda item: item[0].timestamp) if realtime
        else ((item, 0) for item in chain([first], source)))
    if total is None and hasattr(frames, "__len__"):
        total = len(frames)  # type: ignore[arg-type]
    bar = tqdm(total=total, desc="replay", unit="frame", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        with _stop_on_sigint() as stop:
            for (frame, decode_s), dropped in items:
                _, (prediction,) = predict_batch(model, [frame], device, timer)
                with timer.stage("write"):
                    for sink in sinks:
                        sink.write(frame, prediction)
                for out, times, decode in ((stats.stage_s, timer.take(), decode_s[0]),
                                           (stats.stage_cpu_s, timer.take_cpu(), decode_s[1])):
                    out["decode"].append(decode)
                    for name, ours in _TIMER_STAGES.items():
                        out[ours].append(times.get(name, 0.0))
                    out["write"].append(times.get("write", 0.0))
                stats.frames += 1
                stats.dropped += dropped
                _count_missing(frame, cameras, stats)
                bar.update(1 + dropped)
                if stats.dropped:
                    bar.set_postfix(dropped=stats.dropped, refresh=False)
                if stop.requested:
                    stats.interrupted = True
                    break
    finally:
        stats.wall_s = time.perf_counter() - start
        bar.close()
    return stats
