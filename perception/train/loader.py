"""A DataLoader whose position (epoch, batches consumed) can be saved and restored exactly."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from perception.distributed import DistContext


class ResumableSampler(Sampler[int]):
    """Per-epoch shuffled indices for one rank, able to start part-way through an epoch.

    The order of epoch ``e`` is a permutation drawn from a generator seeded with ``seed + e`` (the
    same on every rank), padded by wrap-around to a whole number of global batches. Step i's global
    batch is ``order[i*G:(i+1)*G]`` (``G = world_size * batch_size``) and rank r takes its r-th
    contiguous slice of it, so a W-process run sees exactly the samples of a single-process run with
    a W times larger batch. Call :meth:`set_position` before iterating.
    """

    def __init__(self, size: int, ctx: DistContext, seed: int, shuffle: bool = True, global_batch: int = 1) -> None:
        """
        Args:
            size: dataset length.
            ctx: rank and world size.
            seed: base seed of the shuffles.
            shuffle: permute each epoch (else dataset order).
            global_batch: samples per step over all ranks; rank-local order is taken so that step i
                of a W-process run sees exactly the samples of step i of a 1-process run with a
                batch W times larger.
        """
        if size < 1:
            raise ValueError("the training dataset is empty")
        self.size = size
        self.ctx = ctx
        self.seed = seed
        self.shuffle = shuffle
        self.global_batch = global_batch
        self.epoch = 0
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Iterate epoch ``epoch`` from this rank's ``start``-th sample on."""
        self.epoch = epoch
        self.start = start

    def _rank_indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        world = self.ctx.world_size
        chunk = self.global_batch
        padded = -(-len(order) // chunk) * chunk
        order = (order * (padded // len(order) + 1))[:padded]
        per_rank = chunk // world
        # Step i's global batch is order[i*chunk:(i+1)*chunk]; rank r takes its r-th contiguous slice.
        return [
            index
            for begin in range(0, padded, chunk)
            for index in order[begin + self.ctx.rank * per_rank: begin + (self.ctx.rank + 1) * per_rank]
        ]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rank_indices()[self.start:])

    def __len__(self) -> int:
        return max(len(self._rank_indices()) - self.start, 0)

    def samples_per_epoch(self) -> int:
        """Samples this rank sees in a whole epoch."""
        return len(self._rank_indices())


def make_train_loader(
    dataset: Dataset[Any],
    batch_size: int,
    ctx: DistContext,
    seed: int,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    num_workers: int = 0,
    shuffle: bool = True,
) -> DataLoader[Any]:
    """The training loader the :class:`~perception.train.Trainer` expects.

    Args:
        dataset: map-style dataset of samples.
        batch_size: samples per step on this process (global batch = ``batch_size * world_size``).
        ctx: rank and world size (every rank gets a disjoint part of each global batch).
        seed: seed of the shuffles and of the workers' base seed.
        collate_fn: turns a list of samples into a batch.
        num_workers: loader worker processes. Exact resume of random augmentation done in workers
            needs the dataset to seed per sample; with 0 workers the restored global RNG covers it.
        shuffle: shuffle every epoch.
    """
    if not isinstance(dataset, Sized):
        raise TypeError("the training dataset must define __len__ (map-style dataset)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sampler = ResumableSampler(len(dataset), ctx, seed, shuffle, global_batch=batch_size * ctx.world_size)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=False,
        collate_fn=collate_fn,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
    )
