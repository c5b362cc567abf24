"""Where evaluation frames come from: a nuScenes root, a KITTI root, or a simulated validation drive.

:func:`open_eval_source` turns the ``--data`` argument into an :class:`EvalSource`: a random-access
sequence of :class:`sensors.frame.Frame` plus what the scoring needs to know about its layout
(the nuScenes version for the official ground-truth loader, the KITTI dataset for calibration and
label files). Simulated validation drives use official nuScenes scene names (``mini_val`` ones for
up to two drives, ``val`` ones beyond) so that predictions of them form a valid submission.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perception.config import Config, build_sim_config
from sensors.frame import Camera, DriverLabels, Frame
from sensors.nuscenes.splits import SPLITS

if TYPE_CHECKING:
    from sensors.sim import SimConfig

#: ``--data`` value that selects the simulated validation drives.
SIM = "sim"
#: Splits a simulated validation set answers to (all name the same drives).
SIM_SPLITS: tuple[str, ...] = ("val", "mini_val")


class SimulatedDrives(Sequence[Frame]):
    """Keyframes of seeded simulated drives, simulated lazily and in any order.

    Drive ``i`` has seed ``first_seed + i``, ``frames_per_scene`` keyframes and scene name
    ``scene_names[i]``; index ``i * frames_per_scene + k`` is its keyframe ``k``, identical to the
    ``k``-th frame of ``sensors.sim.simulate_drive`` with the same arguments.
    """

    def __init__(self, sim_config: SimConfig, first_seed: int, scene_names: Sequence[str],
                 frames_per_scene: int, num_frames: int | None = None) -> None:
        if frames_per_scene < 1 or not scene_names:
            raise ValueError(f"simulated data: need at least one drive and one frame per drive, got "
                             f"{len(scene_names)} drives of {frames_per_scene} frames")
        self.sim_config = sim_config
        self.first_seed = int(first_seed)
        self.scene_names = tuple(scene_names)
        self.frames_per_scene = int(frames_per_scene)
        total = len(self.scene_names) * self.frames_per_scene
        self.num_frames = total if num_frames is None else min(int(num_frames), total)
        self._simulators: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.num_frames

    def _simulator(self, drive: int) -> Any:
        from sensors.sim.drive import DriveSimulator

        if drive not in self._simulators:
            duration = (self.frames_per_scene + 1) / self.sim_config.keyframe_rate_hz
            self._simulators[drive] = DriveSimulator(self.sim_config, self.first_seed + drive, duration,
                                                     self.scene_names[drive])
        return self._simulators[drive]

    def maps(self) -> dict[str, Any]:
        """Scene name -> map-expansion geometry (:func:`sensors.sim.town_map.town_map`) of the world
        of every drive with frames here, to write them as a nuScenes root with their maps."""
        from sensors.sim.town_map import town_map

        drives = range((len(self) - 1) // self.frames_per_scene + 1) if len(self) else range(0)
        return {self.scene_names[d]: town_map(self._simulator(d).town) for d in drives}

    def __getitem__(self, index: int) -> Frame:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} out of range [0, {len(self)})")
        index %= len(self)
        drive, k = divmod(index, self.frames_per_scene)
        return self._simulator(drive).keyframe(k)


@dataclass
class EvalSource:
    """Frames to evaluate and their layout.

    Attributes:
        kind: ``"sim"``, ``"nuscenes"``, ``"kitti"`` or ``"dmd"``.
        frames: the frames of the split, in dataset order (already cut to ``--max-samples``);
            none for DMD, whose frames are cabin-only (see ``cabin_streams``).
        root: the dataset root (None for the simulator).
        split: the split name.
        nuscenes_version: e.g. ``v1.0-mini`` for a nuScenes root, else None.
        dataset: the reader object (KITTI: gives calibration and label folders), or None.
        cabin_streams: (name, cabin images with labels) of each continuous cabin recording
            (DMD), scored by the driver head only.
    """

    kind: str
    frames: Sequence[Frame]
    root: Path | None
    split: str
    nuscenes_version: str | None = None
    dataset: Any = None
    cabin_streams: list[tuple[str, Sequence[tuple[Camera, DriverLabels]]]] = field(default_factory=list)


class _Head(Sequence[Any]):
    """The first ``n`` items of a lazy sequence (no item is read before it is asked for)."""

    def __init__(self, frames: Sequence[Any], n: int) -> None:
        self.frames, self.n = frames, min(n, len(frames))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:  # type: ignore[override]
        if not 0 <= index < self.n:
            raise IndexError(f"frame {index} out of range [0, {self.n})")
        return self.frames[index]


def sim_scene_names(count: int) -> tuple[str, ...]:
    """Official scene names for ``count`` simulated validation drives (``mini_val``, then ``val``)."""
    pool = SPLITS["mini_val"] if count <= len(SPLITS["mini_val"]) else SPLITS["val"]
    if count > len(pool):
        raise ValueError(f"data.val_scenes: at most {len(pool)} simulated validation drives, got {count}")
    return tuple(pool[:count])


def open_eval_source(data: str, split: str, config: Config, max_samples: int | None = None) -> EvalSource:
    """The evaluation frames named by ``data`` (``"sim"`` or a dataset root) and ``split``.

    A DMD root gives cabin recordings only (``cabin_streams``, cut to ``max_samples`` images in all).

    ``sim``: ``config.data.val_scenes`` drives of ``config.data.frames_per_scene`` frames, seeds
    following the training drives (``config.data.seed + config.data.train_scenes + i``).

    Raises:
        ValueError: unknown split, ``max_samples`` < 1, an empty split.
        sensors.errors.SensorDataError: a missing or unreadable dataset root.
    """
    from sensors.dataset import detect_layout, open_dataset

    if max_samples is not None and max_samples < 1:
        raise ValueError(f"--max-samples must be at least 1, got {max_samples}")
    if data == SIM:
        if split not in SIM_SPLITS:
            raise ValueError(f"split {split!r} does not exist for simulated data; expected one of {SIM_SPLITS}")
        d = config.data
        frames: Sequence[Frame] = SimulatedDrives(build_sim_config(d), d.seed + d.train_scenes, sim_scene_names(d.val_scenes),
                                                  d.frames_per_scene, max_samples)
        return EvalSource(SIM, frames, None, split)
    root = Path(data)
    kind = detect_layout(root)
    if kind not in ("nuscenes", "kitti", "dmd"):
        raise ValueError(f"{root}: evaluation needs a nuScenes, KITTI or DMD root or 'sim', found a {kind} recording")
    dataset = open_dataset(root, split=split)
    if len(dataset) == 0:
        raise ValueError(f"{root}: split {split!r} has no frames")
    if kind == "dmd":
        streams, left = [], len(dataset) if max_samples is None else max_samples
        for recording in dataset.recordings:
            if left > 0 and len(recording):
                streams.append((recording.name, _Head(recording, left)))
                left -= min(left, len(recording))
        return EvalSource(kind, [], root, split, None, dataset, streams)
    frames = dataset if max_samples is None else _Head(dataset, max_samples)
    version = getattr(dataset, "version", None) if kind == "nuscenes" else None
    return EvalSource(kind, frames, root, split, version, dataset)


class CabinStream(Sequence[tuple[Camera, DriverLabels]]):
    """The simulated driver-facing camera stream, random access: item ``i`` equals the ``i``-th item
    of ``sensors.sim.simulate_cabin_sequence(seed, duration_s, fps, size)``."""

    def __init__(self, seed: int, duration_s: float, fps: float, size: tuple[int, int]) -> None:
        from sensors.sim.driver import DriverScript

        if duration_s < 0 or fps <= 0:
            raise ValueError(f"cabin stream: need duration >= 0 s and fps > 0, got {duration_s}, {fps}")
        self.seed, self.fps, self.size = int(seed), float(fps), tuple(size)
        self.count = int(math.floor(duration_s * fps + 1e-9))
        self.driver = DriverScript(self.seed)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[Camera, DriverLabels]:  # type: ignore[override]
        from sensors.sim.config import EPOCH_US
        from sensors.sim.drive import cabin_frame

        if not 0 <= index < self.count:
            raise IndexError(f"cabin frame {index} out of range [0, {self.count})")
        t = index / self.fps
        return cabin_frame(self.driver, t, EPOCH_US + int(round(t * 1e6)), self.size, self.seed)  # type: ignore[arg-type]
