"""Pure-torch point-to-depth projection (tests and benchmarks only)."""

from __future__ import annotations

import torch


def project(points: torch.Tensor, ego_to_cam: torch.Tensor, k: torch.Tensor, image_hw: tuple[int, int], min_depth: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat pixel index int64 or -1, camera z float32) per point; same arithmetic as the kernels."""
    p = points.double()
    m = ego_to_cam.double()
    kk = k.double()
    px, py, pz = p[:, 0], p[:, 1], p[:, 2]
    x = m[0, 0] * px + m[0, 1] * py + m[0, 2] * pz + m[0, 3]
    y = m[1, 0] * px + m[1, 1] * py + m[1, 2] * pz + m[1, 3]
    z = m[2, 0] * px + m[2, 1] * py + m[2, 2] * pz + m[2, 3]
    w = kk[2, 0] * x + kk[2, 1] * y + kk[2, 2] * z
    u = (kk[0, 0] * x + kk[0, 1] * y + kk[0, 2] * z) / w
    v = (kk[1, 0] * x + kk[1, 1] * y + kk[1, 2] * z) / w
    h, wd = image_hw
    ok = (z > min_depth) & (u >= -0.5) & (u < wd - 0.5) & (v >= -0.5) & (v < h - 0.5)
    col = torch.floor(torch.where(ok, u, torch.zeros_like(u)) + 0.5).long()
    row = torch.floor(torch.where(ok, v, torch.zeros_like(v)) + 0.5).long()
    ok &= (col >= 0) & (col < wd) & (row >= 0) & (row < h)
    flat = torch.where(ok, row * wd + col, torch.full_like(col, -1))
    return flat, z.float()


def points_to_depth(points: torch.Tensor, ego_to_cam: torch.Tensor, k: torch.Tensor, image_hw: tuple[int, int], min_depth: float) -> torch.Tensor:
    """(H, W) float32 nearest camera z per pixel, 0 where no point."""
    flat, z = project(points, ego_to_cam, k, image_hw, min_depth)
    h, w = image_hw
    ok = flat >= 0
    image = torch.full((h * w,), float("inf"), dtype=torch.float32, device=points.device)
    image = image.scatter_reduce(0, flat[ok], z[ok], reduce="amin")
    return torch.where(torch.isinf(image), torch.zeros_like(image), image).view(h, w)
