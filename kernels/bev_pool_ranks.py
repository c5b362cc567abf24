"""Camera-to-BEV pooling geometry: which frustum point falls in which BEV cell, precomputed.

The ranks depend only on the camera rig (frustum points in the ego frame) and the BEV grid, so
they are computed once per rig (``BevPoolRanksCache``) and reused by every ``bev_pool`` call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kernels._checks import check_tensor


@dataclass(frozen=True)
class BevPoolGeometry:
    """A BEV grid in the ego frame (metres): x forward, y left, z up.

    The grid covers ``[xmin, xmax) x [ymin, ymax)`` with cells of ``cell_x`` x ``cell_y``
    metres, and only frustum points with ``zmin <= z < zmax`` are pooled. Cell (ix, iy) is at
    row ix (along +x) and column iy (along +y) of the (C, X, Y) output.
    """

    xmin: float
    ymin: float
    zmin: float
    xmax: float
    ymax: float
    zmax: float
    cell_x: float
    cell_y: float

    def __post_init__(self) -> None:
        values = (self.xmin, self.ymin, self.zmin, self.xmax, self.ymax, self.zmax, self.cell_x, self.cell_y)
        if not all(math.isfinite(float(v)) for v in values):
            raise ValueError(f"BevPoolGeometry: all fields must be finite, got {values}")
        if not (self.cell_x > 0 and self.cell_y > 0):
            raise ValueError(f"BevPoolGeometry: cell sizes must be > 0, got {self.cell_x}, {self.cell_y}")
        if not (self.xmin < self.xmax and self.ymin < self.ymax and self.zmin < self.zmax):
            raise ValueError(f"BevPoolGeometry: range is inverted or empty: {values[:6]}")

    @property
    def nx(self) -> int:
        """Cells along x: ``round((xmax - xmin) / cell_x)``, at least 1."""
        return max(1, round((self.xmax - self.xmin) / self.cell_x))

    @property
    def ny(self) -> int:
        """Cells along y: ``round((ymax - ymin) / cell_y)``, at least 1."""
        return max(1, round((self.ymax - self.ymin) / self.cell_y))


def _geometry(op: str, grid: object) -> BevPoolGeometry:
    if not isinstance(grid, BevPoolGeometry):
        raise TypeError(f"{op}: grid must be a kernels.BevPoolGeometry, got {type(grid).__name__}")
    return grid


@dataclass(frozen=True)
class BevPoolRanks:
    """Frustum points inside the grid, sorted by BEV cell (stable, so in frustum order within a cell).

    All index tensors are int32 on the device of the frustum they came from; K points kept.
    depth_index: (K,) index into a camera rig's depth flattened as (N, D, H, W).
    feat_index: (K,) index into the context flattened as (N, H, W).
    bev_index: (K,) output cell ``ix * Y + iy``.
    interval_starts / interval_lengths: (I,) runs of equal ``bev_index`` (one per non-empty cell).
    feat_order: (K,) permutation of the K points sorted by ``feat_index`` (stable), for the
        context gradient; feat_starts / feat_lengths: (J,) runs of equal ``feat_index`` in it.
    shape: (N, D, H, W) of the rig; nx, ny: output grid size.
    """

    depth_index: torch.Tensor
    feat_index: torch.Tensor
    bev_index: torch.Tensor
    interval_starts: torch.Tensor
    interval_lengths: torch.Tensor
    feat_order: torch.Tensor
    feat_starts: torch.Tensor
    feat_lengths: torch.Tensor
    shape: tuple[int, int, int, int]
    nx: int
    ny: int

    def to(self, device: torch.device | str) -> BevPoolRanks:
        """The same ranks with every index tensor on ``device``."""
        fields = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return BevPoolRanks(**fields)

    @property
    def device(self) -> torch.device:
        """Device of the index tensors."""
        return self.depth_index.device


def _runs(sorted_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(starts, lengths) int32 of the runs of equal values in a sorted 1-D tensor."""
    _, lengths = torch.unique_consecutive(sorted_values, return_counts=True)
    starts = torch.cumsum(lengths, 0) - lengths
    return starts.int(), lengths.int()


def precompute_bev_pool(frustum_xyz: torch.Tensor, grid: BevPoolGeometry) -> BevPoolRanks:
    """Ranks of the frustum points of a camera rig inside a BEV grid.

    Args:
        frustum_xyz: (N, D, H, W, 3) float, the ego-frame position in metres of depth bin d
            of feature pixel (h, w) of camera n.
        grid: the BEV grid and height range to pool into.

    A point is kept when it is finite, ``min <= p < max`` on x, y, z and its cell index is
    inside the grid (cell index = ``floor((p - min) / cell)`` in float64).
    """
    op = "precompute_bev_pool"
    check_tensor(op, "frustum_xyz", frustum_xyz, 5, (torch.float32, torch.float64), last_dim=3)
    g = _geometry(op, grid)
    n, d, h, w, _ = frustum_xyz.shape
    if n * d * h * w >= 2**31:
        raise ValueError(f"{op}: frustum has {n * d * h * w} points; at most 2**31 - 1 are supported")
    xyz = frustum_xyz.reshape(-1, 3).double()
    x, y, z = xyz.unbind(1)
    inside = (x >= g.xmin) & (x < g.xmax) & (y >= g.ymin) & (y < g.ymax) & (z >= g.zmin) & (z < g.zmax)
    ix = torch.floor((x - g.xmin) / g.cell_x)
    iy = torch.floor((y - g.ymin) / g.cell_y)
    inside &= (ix < g.nx) & (iy < g.ny)
    kept = torch.nonzero(inside).squeeze(1)
    bev = (ix[kept] * g.ny + iy[kept]).long()
    bev_sorted, order = torch.sort(bev, stable=True)
    depth_index = kept[order]
    cam = depth_index // (d * h * w)
    feat_index = cam * (h * w) + depth_index % (h * w)
    feat_sorted, feat_order = torch.sort(feat_index, stable=True)
    starts, lengths = _runs(bev_sorted)
    feat_starts, feat_lengths = _runs(feat_sorted)
    return BevPoolRanks(
        depth_index=depth_index.int(),
        feat_index=feat_index.int(),
        bev_index=bev_sorted.int(),
        interval_starts=starts,
        interval_lengths=lengths,
        feat_order=feat_order.int(),
        feat_starts=feat_starts,
        feat_lengths=feat_lengths,
        shape=(n, d, h, w),
        nx=g.nx,
        ny=g.ny,
    )


class BevPoolRanksCache:
    """Recomputes ranks only when the rig's frustum or the grid changes.

    ``get`` compares the frustum with the cached ones (exact ``torch.equal``, far cheaper than
    the sort in :func:`precompute_bev_pool`); up to ``max_entries`` rigs are kept, the least
    recently used one is evicted first.
    """

    def __init__(self, max_entries: int = 4) -> None:
        if max_entries < 1:
            raise ValueError(f"BevPoolRanksCache: max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: list[tuple[BevPoolGeometry, torch.Tensor, BevPoolRanks]] = []
        self.misses = 0

    def get(self, frustum_xyz: torch.Tensor, grid: BevPoolGeometry) -> BevPoolRanks:
        """Ranks for this frustum and grid, from the cache when an identical rig was seen."""
        g = _geometry("BevPoolRanksCache.get", grid)
        for i, (eg, ef, ranks) in enumerate(self._entries):
            if (
                eg == g
                and ef.shape == frustum_xyz.shape
                and ef.dtype == frustum_xyz.dtype
                and ef.device == frustum_xyz.device
                and torch.equal(ef, frustum_xyz)
            ):
                self._entries.append(self._entries.pop(i))
                return ranks
        self.misses += 1
        ranks = precompute_bev_pool(frustum_xyz, g)
        self._entries.append((g, frustum_xyz.detach().clone(), ranks))
        if len(self._entries) > self.max_entries:
            self._entries.pop(0)
        return ranks
