"""Argument checks shared by the ops: every bad argument raises ``ValueError`` before a launch."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def check_tensor(
    op: str,
    name: str,
    t: object,
    ndim: int,
    dtypes: tuple[torch.dtype, ...],
    last_dim: int | None = None,
    min_last_dim: int | None = None,
) -> torch.Tensor:
    """Check that ``t`` is a tensor with ``ndim`` dimensions and one of ``dtypes``."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != ndim:
        raise ValueError(f"{op}: {name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.dtype not in dtypes:
        raise ValueError(f"{op}: {name} must have dtype in {dtypes}, got {t.dtype}")
    if last_dim is not None and t.shape[-1] != last_dim:
        raise ValueError(f"{op}: {name} must have last dimension {last_dim}, got shape {tuple(t.shape)}")
    if min_last_dim is not None and t.shape[-1] < min_last_dim:
        raise ValueError(
            f"{op}: {name} must have at least {min_last_dim} columns, got shape {tuple(t.shape)}"
        )
    return t


def check_voxel_grid(
    op: str, voxel_size: Sequence[float], point_range: Sequence[float]
) -> tuple[tuple[float, float, float], tuple[float, ...], tuple[int, int, int]]:
    """Validate a voxel grid and return (voxel_size, point_range, grid_size (nx, ny, nz)).

    ``voxel_size`` is (dx, dy, dz) in metres, all finite and > 0; ``point_range`` is
    (xmin, ymin, zmin, xmax, ymax, zmax) in metres with min < max on every axis. The grid size
    per axis is ``round((max - min) / size)`` and at least 1.
    """
    try:
        vs = tuple(float(v) for v in voxel_size)
        pr = tuple(float(v) for v in point_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{op}: voxel_size and point_range must be sequences of numbers ({exc})") from None
    if len(vs) != 3:
        raise ValueError(f"{op}: voxel_size must have 3 values (dx, dy, dz), got {len(vs)}")
    if len(pr) != 6:
        raise ValueError(
            f"{op}: point_range must have 6 values (xmin, ymin, zmin, xmax, ymax, zmax), got {len(pr)}"
        )
    if not all(math.isfinite(v) and v > 0 for v in vs):
        raise ValueError(f"{op}: voxel_size must be finite and > 0, got {vs}")
    if not all(math.isfinite(v) for v in pr):
        raise ValueError(f"{op}: point_range must be finite, got {pr}")
    for axis, (lo, hi) in enumerate(zip(pr[:3], pr[3:])):
        if not lo < hi:
            raise ValueError(f"{op}: point_range is inverted or empty on axis {'xyz'[axis]}: {lo} >= {hi}")
    grid = tuple(max(1, round((hi - lo) / s)) for lo, hi, s in zip(pr[:3], pr[3:], vs))
    if grid[0] * grid[1] * grid[2] >= 2**53:
        raise ValueError(f"{op}: voxel grid {grid} has 2**53 cells or more (keys must be exact in float64)")
    return vs, pr, grid  # type: ignore[return-value]


def check_positive_int(op: str, name: str, value: object) -> int:
    """Check that ``value`` is an int > 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return value
