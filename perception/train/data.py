"""Training data for ``perception train``: simulated drives (cached on disk) or a dataset on disk."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from perception.config import Config, ImageConfig, build_sim_config, config_to_dict
from perception.data import FrameDataset, Sample, frame_to_sample
from perception.data.transforms import normalise_uint8, to_uint8
from sensors.atomic import atomic_path
from sensors.errors import MissingDataError

#: Layout of the cached files (part of the cache key): 2 = images as uint8, map as bool; 3 = the
#: map drawn with the nuScenes devkit's rules (the simulator's map expansion), no longer sampled.
CACHE_FORMAT = 3


def _restore_images(stored: torch.Tensor, valid: torch.Tensor, image: ImageConfig) -> torch.Tensor:
    """Normalised float32 images from cached uint8 ones; images of missing cameras are zeros."""
    return torch.where(valid, normalise_uint8(stored, image.mean, image.std), torch.zeros((), dtype=torch.float32))


def pack_sample(sample: Sample, image: ImageConfig) -> dict[str, object]:
    """A :class:`Sample` as the plain dict the cache stores, 2.2 times smaller for the tiny preset.

    Street and cabin images are stored as the uint8 pixels they were normalised from, and the map as
    bool, each only when :func:`unpack_sample` gives back the very same float32 values (otherwise the
    float tensor is kept).
    """
    packed = dataclasses.asdict(sample)
    valid = {"images": sample.camera_valid.view(-1, 1, 1, 1), "cabin": torch.tensor(sample.cabin_valid)}
    for name, mask in valid.items():
        stored = to_uint8(packed[name], image.mean, image.std)
        if torch.equal(_restore_images(stored, mask, image), packed[name]):
            packed[name] = stored
    if torch.equal(sample.bev_map.bool().float(), sample.bev_map):
        packed["bev_map"] = sample.bev_map.bool()
    return packed


def unpack_sample(packed: dict[str, object], image: ImageConfig) -> Sample:
    """Inverse of :func:`pack_sample` (bit-exact)."""
    fields = dict(packed)
    images, cabin, bev_map = fields["images"], fields["cabin"], fields["bev_map"]
    assert isinstance(images, torch.Tensor) and isinstance(cabin, torch.Tensor) and isinstance(bev_map, torch.Tensor)
    if images.dtype == torch.uint8:
        fields["images"] = _restore_images(images, fields["camera_valid"].view(-1, 1, 1, 1), image)  # type: ignore[union-attr]
    if cabin.dtype == torch.uint8:
        fields["cabin"] = _restore_images(cabin, torch.tensor(bool(fields["cabin_valid"])), image)
    fields["bev_map"] = bev_map.float()
    return Sample(**fields)  # type: ignore[arg-type]


class SimulatedSamples(Dataset[Sample]):
    """Frames of simulated drives, converted to model :class:`Sample` s and cached on disk.

    Drive ``i`` (``0 <= i < num_scenes``) is ``sensors.sim.simulate_drive`` with seed
    ``first_seed + i`` and ``frames_per_scene`` keyframes; index ``i * frames_per_scene + k`` is its
    keyframe k. A drive is simulated the first time one of its frames is needed (or by
    :meth:`prepare`) and each converted sample is written atomically to
    ``<cache_dir>/<key>/<index>.pt``, where ``key`` hashes the simulator settings, the seeds and
    the settings :func:`perception.data.frame_to_sample` reads (cameras, image sizes and
    normalisation, map grid), so a changed config never reads stale samples while runs that differ
    only in the network (heads on or off, widths) share one cache. A cached sample that cannot be
    read back (truncated, corrupted) is deleted and simulated again.
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
        if num_scenes < 1 or config.data.frames_per_scene < 1:
            raise ValueError(
                f"data: need train_scenes >= 1 and frames_per_scene >= 1, got {num_scenes}, {config.data.frames_per_scene}"
            )
        self.sim_config = build_sim_config(config.data)
        self.model_config = config.model
        self.first_seed = first_seed
        self.num_scenes = num_scenes
        self.frames_per_scene = config.data.frames_per_scene
        as_dict = config_to_dict(config)
        model = as_dict["model"]
        identity = {
            "format": CACHE_FORMAT,
            # every simulator setting, defaults included: a changed default (e.g. sensor timing)
            # must not reuse samples simulated under the old one
            "sim": dataclasses.asdict(self.sim_config),
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
                    torch.save(pack_sample(sample, self.model_config.image), tmp)

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
        try:
            packed = torch.load(path, weights_only=True)
            return unpack_sample(packed, self.model_config.image)
        except (RuntimeError, EOFError, OSError, ValueError, TypeError, KeyError, AssertionError, pickle.UnpicklingError):
            # A sample cut short (disk full, a killed process on a file system without atomic
            # rename) or otherwise unreadable is derived data: simulated again, written atomically.
            path.unlink(missing_ok=True)
            self._simulate_scene(index // self.frames_per_scene)
            return unpack_sample(torch.load(path, weights_only=True), self.model_config.image)


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
        ValueError: the split has no labels (KITTI ``testing/``, nuScenes ``v1.0-test``).
    """
    source = data or config.data.dataset
    if source == "sim":
        return SimulatedSamples(config, cache_dir, config.data.seed, config.data.train_scenes)
    from sensors.dataset import detect_layout, open_dataset

    root = Path(source)
    if not root.exists():
        raise MissingDataError(root, "dataset path does not exist")
    if detect_layout(root) == "dmd":
        raise ValueError(f"{root}: a DMD root labels the driver only in part (no head pose or eye openness): it is "
                         f"for evaluation (perception evaluate --data {root} --split all), not training")
    dataset = open_dataset(root, split=split)
    if not getattr(dataset, "has_labels", True) or getattr(dataset, "version", None) == "v1.0-test":
        raise ValueError(f"{root}: split {split!r} has no labels (a benchmark test split): it cannot be trained on; "
                         "`perception evaluate` exports predictions for it")
    return FrameDataset(dataset, config.model)


#: The :class:`Sample` flag that says a frame carries labels of each task.
LABEL_FLAGS: dict[str, str] = {
    "detection": "has_boxes", "segmentation": "has_bev_map", "depth": "has_depth", "driver": "has_driver",
}


def labelled_subset(size: int, fraction: float, seed: int) -> list[int]:
    """Indices (sorted) of ``round(fraction * size)`` frames, at least one, drawn without
    replacement from ``range(size)`` by a generator seeded with ``seed``.

    Raises:
        ValueError: ``fraction`` not in (0, 1] or ``size`` < 1.
    """
    if not 0.0 < fraction <= 1.0 or size < 1:
        raise ValueError(f"labelled_subset: need 0 < fraction <= 1 and size >= 1, got {fraction}, {size}")
    count = max(1, round(fraction * size))
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[:count])


class PartialLabels(Dataset[Sample]):
    """``dataset`` with the labels of ``task`` kept only on the frames ``labelled`` (the
    label-scarce protocol): elsewhere the task's flag (:data:`LABEL_FLAGS`) is False, so its loss
    leaves those frames out (docs/mtl.md, "Partial labels"); the other tasks keep every label."""

    def __init__(self, dataset: Dataset[Sample], task: str, labelled: list[int]) -> None:
        if task not in LABEL_FLAGS:
            raise ValueError(f"unknown task {task!r}; expected one of {tuple(LABEL_FLAGS)}")
        self.dataset, self.flag, self.labelled = dataset, LABEL_FLAGS[task], frozenset(labelled)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Sample:
        sample = self.dataset[index]
        if index in self.labelled:
            return sample
        return dataclasses.replace(sample, **{self.flag: False})


class OnlyLabels(Dataset[Sample]):
    """``dataset`` with the labels of ``task`` alone: every other task's flag (:data:`LABEL_FLAGS`)
    is False, so only that task's loss reads its samples (the label-scarce protocol's oversampled
    repeats, which must not shift the other tasks' training distribution)."""

    def __init__(self, dataset: Dataset[Sample], task: str) -> None:
        if task not in LABEL_FLAGS:
            raise ValueError(f"unknown task {task!r}; expected one of {tuple(LABEL_FLAGS)}")
        self.dataset = dataset
        self.off = {flag: False for name, flag in LABEL_FLAGS.items() if name != task}

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Sample:
        return dataclasses.replace(self.dataset[index], **self.off)
