"""Training data for ``perception train``: simulated drives (cached on disk) or a dataset on disk."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from perception.config import Config, config_to_dict
from perception.data import FrameDataset, Sample, frame_to_sample
from sensors.atomic import atomic_path
from sensors.errors import MissingDataError


class SimulatedSamples(Dataset[Sample]):
    """Frames of simulated drives, converted to model :class:`Sample` s and cached on disk.

    Drive ``i`` (``0 <= i < num_scenes``) is ``sensors.sim.simulate_drive`` with seed
    ``first_seed + i`` and ``frames_per_scene`` keyframes; index ``i * frames_per_scene + k`` is its
    keyframe k. A drive is simulated the first time one of its frames is needed (or by
    :meth:`prepare`) and each converted sample is written atomically to
    ``<cache_dir>/<key>/<index>.pt``, where ``key`` hashes the simulator settings, the seeds and
    the settings :func:`perception.data.frame_to_sample` reads (cameras, image sizes and
    normalisation, map grid), so a changed config never reads stale samples while runs that differ
    only in the network (heads on or off, widths) share one cache.
    """

    def __init__(self, config: Config, cache_dir: str | Path, first_seed: int, num_scenes: int) -> None:
        """
        Args:
            config: ``config.data`` gives the simulator settings and frames per drive,
                ``config.model`` the tensor conversion.
            cache_dir: folder for the cache (created).
            first_seed: seed of drive 0.
            num_scenes: number of drives.
        """
        from sensors.sim import SimConfig

        if num_scenes < 1 or config.data.frames_per_scene < 1:
            raise ValueError(
                f"data: need train_scenes >= 1 and frames_per_scene >= 1, got {num_scenes}, {config.data.frames_per_scene}"
            )
        try:
            self.sim_config = SimConfig(**config.data.sim)
        except TypeError as exc:
            raise ValueError(f"data.sim: {exc}") from None
        self.model_config = config.model
        self.first_seed = first_seed
        self.num_scenes = num_scenes
        self.frames_per_scene = config.data.frames_per_scene
        model = config_to_dict(config)["model"]
        identity = {
            "sim": config_to_dict(config)["data"]["sim"],
            "frames_per_scene": self.frames_per_scene,
            "sample": {
                "cameras": model["cameras"],
                "image": {k: model["image"][k] for k in ("height", "width", "cabin_height", "cabin_width", "mean", "std")},
                "map_grid": model["heads"]["segmentation"]["grid"],
            },
            "first_seed": first_seed,
            "num_scenes": num_scenes,
        }
        key = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        self.cache_dir = Path(cache_dir) / f"sim-{key}"
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return self.num_scenes * self.frames_per_scene

    def _path(self, index: int) -> Path:
        return self.cache_dir / f"{index:06d}.pt"

    def _simulate_scene(self, scene: int) -> None:
        from sensors.sim import simulate_drive

        seed = self.first_seed + scene
        frames = simulate_drive(self.sim_config, seed, self.frames_per_scene, scene_name=f"sim-{seed:05d}")
        for k, frame in enumerate(frames):
            path = self._path(scene * self.frames_per_scene + k)
            if not path.exists():
                sample = frame_to_sample(frame, self.model_config)
                with atomic_path(path) as tmp:
                    torch.save(dataclasses.asdict(sample), tmp)

    def prepare(self, progress: bool = True) -> None:
        """Simulate and cache every drive not cached yet, with a progress bar."""
        missing = [
            s for s in range(self.num_scenes)
            if not all(self._path(s * self.frames_per_scene + k).exists() for k in range(self.frames_per_scene))
        ]
        for scene in tqdm(missing, desc="simulating drives", unit="drive", disable=not progress or not missing):
            self._simulate_scene(scene)

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range [0, {len(self)})")
        path = self._path(index)
        if not path.exists():
            self._simulate_scene(index // self.frames_per_scene)
        return Sample(**torch.load(path, weights_only=True))


def build_train_dataset(
    config: Config, data: str | None = None, cache_dir: str | Path = ".cache", split: str | None = None
) -> Dataset[Sample]:
    """The training split named by ``data`` (default ``config.data.dataset``).

    Args:
        config: the run's configuration.
        data: ``"sim"`` for simulated drives (``config.data.train_scenes`` drives from
            ``config.data.seed``), or a dataset root for ``sensors.open_dataset`` (nuScenes,
            KITTI, rosbag2), read whole.
        cache_dir: where simulated samples are cached.
        split: split of a dataset root (e.g. nuScenes ``train``); None reads everything.

    Raises:
        MissingDataError: the dataset path does not exist.
        SensorDataError: the path is not a readable dataset.
    """
    source = data or config.data.dataset
    if source == "sim":
        return SimulatedSamples(config, cache_dir, config.data.seed, config.data.train_scenes)
    from sensors.dataset import open_dataset

    root = Path(source)
    if not root.exists():
        raise MissingDataError(root, "dataset path does not exist")
    return FrameDataset(open_dataset(root, split=split), config.model)
