"""Numba CUDA kernels checked against the torch reference under the CUDA simulator.

Run as a script with ``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported (see
test_numba_cuda_sim.py); prints one JSON object mapping case name to "ok" or the failure.
The simulator runs a few thousand threads per second, so the inputs are small.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import torch

import kernels

RANGE = (-4.0, -4.0, -2.0, 4.0, 4.0, 2.0)
SIZE = (0.5, 0.5, 1.0)


def _points() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    random = torch.rand(300, 4, generator=g) * 9 - 4.5
    random[::17, 0] = float("nan")
    random[::23, 1] = float("inf")
    random[::29, :3] = torch.tensor([4.0, -4.0, -2.0])  # boundary: x == xmax dropped
    one_voxel = torch.full((30, 4), 0.1)
    return {"random": random, "one_voxel": one_voxel, "duplicates": random[:20].repeat(4, 1), "empty": torch.zeros(0, 4)}


def case_hard_voxelize() -> None:
    for name, pts in _points().items():
        for max_points, max_voxels in ((3, 40), (1, 5), (50, 1000)):
            a = kernels.hard_voxelize(pts, SIZE, RANGE, max_points, max_voxels, backend="reference")
            b = kernels.hard_voxelize(pts, SIZE, RANGE, max_points, max_voxels, backend="numba_cuda")
            for x, y in zip(a, b):
                assert x.dtype == y.dtype and torch.equal(x, y), (name, max_points, max_voxels)


def case_dynamic_voxelize() -> None:
    for name, pts in _points().items():
        a = kernels.dynamic_voxelize(pts, SIZE, RANGE, backend="reference")
        assert torch.equal(a, kernels.dynamic_voxelize(pts, SIZE, RANGE, backend="numba_cuda")), name


def case_pillar_scatter() -> None:
    g = torch.Generator().manual_seed(1)
    m = 60
    features = torch.randn(m, 3, generator=g, dtype=torch.float64, requires_grad=True)
    coords = torch.stack(
        [torch.randint(0, 2, (m,), generator=g), torch.randint(0, 5, (m,), generator=g),
         torch.randint(0, 4, (m,), generator=g), torch.zeros(m, dtype=torch.long)], 1
    ).int()  # 60 pillars on 40 cells: many duplicates
    weights = torch.randn(2, 3, 5, 4, dtype=torch.float64, generator=g)
    results = []
    for backend in ("reference", "numba_cuda"):
        out = kernels.pillar_scatter(features, coords, 2, (5, 4), backend=backend)
        results.append((out, torch.autograd.grad((out * weights).sum(), features)[0]))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def case_points_to_depth() -> None:
    g = torch.Generator().manual_seed(2)
    pts = torch.randn(300, 3, generator=g) * 4
    pts[:, 0] += 3
    pts[::13] = pts[1]  # duplicates
    pts[5, 0] = float("nan")
    pose = torch.tensor([[0.0, -1, 0, 0.1], [0, 0, -1, 0.2], [1, 0, 0, -0.3], [0, 0, 0, 1]])
    k = torch.tensor([[8.0, 0, 6], [0, 8, 5], [0, 0, 1]])
    a = kernels.points_to_depth(pts, pose, k, (10, 12), backend="reference")
    b = kernels.points_to_depth(pts, pose, k, (10, 12), backend="numba_cuda")
    assert (a > 0).sum() > 10 and torch.equal(a, b)


CASES = {name: fn for name, fn in globals().items() if name.startswith("case_")}


def main() -> int:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        print("set NUMBA_ENABLE_CUDASIM=1", file=sys.stderr)
        return 2
    results = {}
    for name, fn in CASES.items():
        try:
            fn()
            results[name] = "ok"
        except Exception:  # noqa: BLE001 - reported to the parent test
            results[name] = traceback.format_exc()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
