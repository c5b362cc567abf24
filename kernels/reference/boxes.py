"""Pure-torch rotated box IoU and NMS (tests and benchmarks only), vectorized over box pairs.

The intersection polygon of two convex boxes is made of the corners of each box inside the
other and the crossings of their edges; sorted by angle around their mean, its area follows
from the shoelace formula.
"""

from __future__ import annotations

import torch


def corners(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4, 2) counter-clockwise corners of BEV boxes (x, y, length, width, yaw)."""
    c, s = torch.cos(boxes[:, 4]), torch.sin(boxes[:, 4])
    hl, hw = boxes[:, 2:3] / 2, boxes[:, 3:4] / 2
    dx = torch.cat([hl, -hl, -hl, hl], dim=1)
    dy = torch.cat([hw, hw, -hw, -hw], dim=1)
    x = boxes[:, 0:1] + dx * c[:, None] - dy * s[:, None]
    y = boxes[:, 1:2] + dx * s[:, None] + dy * c[:, None]
    return torch.stack([x, y], dim=2)


def _inside(points: torch.Tensor, poly: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """(P, K) whether each of K points is inside (or on, within ``eps`` (P,) m^2) the convex CCW quad of each pair."""
    edge = poly.roll(-1, dims=1) - poly  # (P, 4, 2)
    rel = points[:, :, None, :] - poly[:, None, :, :]  # (P, K, 4, 2)
    cross = edge[:, None, :, 0] * rel[..., 1] - edge[:, None, :, 1] * rel[..., 0]
    return (cross >= -eps[:, None, None]).all(dim=2)


def intersection_area(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) intersection areas of BEV boxes a (N, 5) and b (M, 5), at most either box's area.

    Each pair is intersected in a frame centred on its ``a`` box (exact far from the origin), with
    tolerances relative to the pair's size (exact for boxes of a micrometre as of a kilometre).
    """
    n, m = a.shape[0], b.shape[0]
    a64, b64 = a.double(), b.double()
    centred = torch.cat([torch.zeros_like(a64[:, :2]), a64[:, 2:]], dim=1)
    ca = corners(centred)[:, None].expand(n, m, 4, 2).reshape(-1, 4, 2)
    relative = b64[None, :, :2] - a64[:, None, :2]  # (N, M, 2) centre of b seen from a
    pairs = torch.cat([relative, b64[None, :, 2:].expand(n, m, 3)], dim=2).reshape(-1, 5)
    cb = corners(pairs)
    extent = torch.maximum(ca.abs().amax(dim=(1, 2)), (cb - pairs[:, None, :2]).abs().amax(dim=(1, 2)))
    eps = 1e-9 * extent**2  # (P,) m^2: cross products scale with the square of the boxes' size
    # edge-edge crossings: (P, 4, 4)
    p, r = ca[:, :, None, :], (ca.roll(-1, 1) - ca)[:, :, None, :]
    q, s = cb[:, None, :, :], (cb.roll(-1, 1) - cb)[:, None, :, :]
    denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    qp = q - p
    parallel = denom.abs() <= eps[:, None, None]
    safe = torch.where(parallel, torch.ones_like(denom), denom)
    t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / safe
    u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / safe
    crossing_ok = ~parallel & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (p + t[..., None] * r).reshape(-1, 16, 2)
    pts = torch.cat([ca, cb, crossings], dim=1)  # (P, 24, 2)
    ok = torch.cat([_inside(ca, cb, eps), _inside(cb, ca, eps), crossing_ok.reshape(-1, 16)], dim=1)
    count = ok.sum(dim=1)
    center = (pts * ok[..., None]).sum(dim=1) / count.clamp(min=1)[:, None]
    angle = torch.atan2(pts[..., 1] - center[:, None, 1], pts[..., 0] - center[:, None, 0])
    angle = torch.where(ok, angle, torch.full_like(angle, 10.0))  # invalid points sort last
    order = torch.argsort(angle, dim=1)
    pts = torch.gather(pts, 1, order[..., None].expand(-1, -1, 2))
    ok = torch.gather(ok, 1, order)
    first = pts[:, :1].expand_as(pts)
    pts = torch.where(ok[..., None], pts, first)  # invalid points collapse onto the first one
    nxt = pts.roll(-1, dims=1)
    area = 0.5 * (pts[..., 0] * nxt[..., 1] - nxt[..., 0] * pts[..., 1]).sum(dim=1)
    area = torch.where(count >= 3, area.clamp(min=0), torch.zeros_like(area)).view(n, m)
    area = torch.minimum(area, torch.minimum((a64[:, 2] * a64[:, 3])[:, None], (b64[:, 2] * b64[:, 3])[None]))
    return area.to(a.dtype)


def rotated_iou_bev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) BEV IoU of boxes (x, y, length, width, yaw)."""
    inter = intersection_area(a, b)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter)).clamp(0, 1)


def iou_3d(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) 3D IoU of boxes (x, y, z_center, length, width, height, yaw)."""
    inter_bev = intersection_area(a[:, [0, 1, 3, 4, 6]], b[:, [0, 1, 3, 4, 6]])
    dz = b[None, :, 2] - a[:, None, 2]  # vertical overlap relative to a's centre
    top = torch.minimum((a[:, 5] / 2)[:, None], dz + (b[:, 5] / 2)[None])
    bottom = torch.maximum((-a[:, 5] / 2)[:, None], dz - (b[:, 5] / 2)[None])
    inter = inter_bev * (top - bottom).clamp(min=0)
    vol_a = (a[:, 3] * a[:, 4] * a[:, 5])[:, None]
    vol_b = (b[:, 3] * b[:, 4] * b[:, 5])[None]
    union = vol_a + vol_b - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter)).clamp(0, 1)


def rotated_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS; indices of kept boxes by score descending, ties by lower index first."""
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = rotated_iou_bev(boxes[order], boxes[order])
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    keep = []
    for i in range(order.numel()):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        suppressed |= iou[i].cpu() > iou_threshold
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
