"""Hot-path kernels: voxelization, pillar scatter, BEV pooling, depth projection, rotated boxes.

Every op takes and returns torch tensors and picks its backend from the tensor's device
(Numba on CPU, Numba CUDA / CuPy on CUDA); ``backend=`` overrides. See docs/kernels.md.
"""

import kernels._threading  # noqa: F401  (must run before any parallel kernel)
from kernels.bev_pool import bev_pool
from kernels.bev_pool_ranks import (
    BevPoolGeometry,
    BevPoolRanks,
    BevPoolRanksCache,
    precompute_bev_pool,
)
from kernels.boxes import iou_3d, rotated_iou_bev, rotated_nms
from kernels.depth import points_to_depth
from kernels.scatter import pillar_scatter
from kernels.voxelize import (
    Voxels,
    dynamic_voxelize,
    hard_voxelize,
    hard_voxelize_batch,
)

__all__ = [
    "BevPoolGeometry",
    "BevPoolRanks",
    "BevPoolRanksCache",
    "Voxels",
    "bev_pool",
    "dynamic_voxelize",
    "hard_voxelize",
    "hard_voxelize_batch",
    "iou_3d",
    "pillar_scatter",
    "points_to_depth",
    "precompute_bev_pool",
    "rotated_iou_bev",
    "rotated_nms",
]
