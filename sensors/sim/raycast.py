"""Numba ray casting of the world: LiDAR returns and camera images with exact depth.

The world is the analytic ground plane z = 0 (materials from :func:`sensors.sim.town.ground_at`)
plus solid yaw-oriented boxes, packed as rows of :meth:`sensors.sim.shapes.Parts.packed`.
All coordinates are global (metres); the nearest hit along a ray wins (occlusion).
"""
from __future__ import annotations

import math
import os

import numba
import numpy as np
from numba import njit, prange

from sensors.sim.shapes import BARRIER_STRIPE, FACADE, GLASS_SIDES, WINDOW_BAND
from sensors.sim.town import MATERIAL_COLOR, MATERIAL_INTENSITY, ground_at

# Numba's OpenMP threading layer crashed (segfault in the first parallel kernel) in pytest-xdist
# workers that had run OpenCV before, and it spin-waits between parallel regions. Use the
# workqueue layer unless the user chose one (decided before the first parallel kernel runs; the
# same choice as the kernels package).
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

INF = 1e30
#: Fast-math flags of the kernels: reassociation and approximate functions, but NaN/Inf kept
#: meaningful (projected corners use NaN as a marker).
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
#: Cameras see the ground no farther than this (metres); beyond it is sky haze.
GROUND_FAR = 1500.0


@njit(cache=True, inline="always")
def _hit(ox, oy, oz, dx, dy, dz, part):
    """Entry distance along the ray and the face hit (0..5 = -x,+x,-y,+y,-z,+z local) of a part.

    Returns (INF, -1) when the ray misses or starts inside the box.
    """
    rx, ry, rz = ox - part[0], oy - part[1], oz - part[2]
    c, s = part[6], part[7]
    lo = (c * rx + s * ry, -s * rx + c * ry, rz)
    ld = (c * dx + s * dy, -s * dx + c * dy, dz)
    tmin, tmax, face = -INF, INF, -1
    for a in range(3):
        h = part[3 + a]
        if abs(ld[a]) < 1e-12:
            if abs(lo[a]) > h:
                return INF, -1
            continue
        t1 = (-h - lo[a]) / ld[a]
        t2 = (h - lo[a]) / ld[a]
        f = 2 * a  # entering through the -a face when moving +a
        if t1 > t2:
            t1, t2 = t2, t1
            f = 2 * a + 1
        if t1 > tmin:
            tmin, face = t1, f
        tmax = min(tmax, t2)
    if tmax < tmin or tmin <= 1e-6:
        return INF, -1
    return tmin, face


@njit(cache=True, inline="always")
def _hash(x, y):
    """Deterministic pseudo-random value in [0, 1) of the integer cell (floor(x), floor(y))."""
    h = (np.int64(x) * 73856093) ^ (np.int64(y) * 19349663)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF) / 65536.0


@njit(parallel=True, cache=True, fastmath=_FAST)
def cast_lidar(origin, dirs, max_range, parts, avenues, cross_x, cross_half, lots, out_range, out_intensity, out_owner):
    """Cast LiDAR rays ``dirs`` (A, B, 3) unit vectors from ``origin`` (3,), one column per azimuth.

    Fills ``out_range`` (A, B) with the hit distance (``INF`` without hit within ``max_range``),
    ``out_intensity`` with the reflectivity 0-255, ``out_owner`` with the part owner (-1 ground or
    scenery, -2 none). All beams of an azimuth share their horizontal direction.
    """
    n_az, n_beam = dirs.shape[0], dirs.shape[1]
    n_parts = parts.shape[0]
    ox, oy, oz = origin[0], origin[1], origin[2]
    for a in prange(n_az):
        hx, hy = dirs[a, 0, 0], dirs[a, 0, 1]
        norm = math.sqrt(hx * hx + hy * hy)
        hx /= norm
        hy /= norm
        cand = np.empty(n_parts, np.int64)
        nc = 0
        for p in range(n_parts):
            rx, ry = parts[p, 0] - ox, parts[p, 1] - oy
            rad = math.sqrt(parts[p, 3] ** 2 + parts[p, 4] ** 2)
            along = rx * hx + ry * hy
            if along > -rad and abs(rx * hy - ry * hx) < rad and along - rad < max_range:
                cand[nc] = p
                nc += 1
        for b in range(n_beam):
            dx, dy, dz = dirs[a, b, 0], dirs[a, b, 1], dirs[a, b, 2]
            best, who, face = max_range, -2, -1
            if dz < -1e-9:
                tg = -oz / dz
                if tg < best:
                    best, who = tg, -3
            for i in range(nc):
                t, f = _hit(ox, oy, oz, dx, dy, dz, parts[cand[i]])
                if t < best:
                    best, who, face = t, cand[i], f
            if who == -2:
                out_range[a, b] = INF
                out_intensity[a, b] = 0.0
                out_owner[a, b] = -2
            elif who == -3:
                x, y = ox + best * dx, oy + best * dy
                mat, _ = ground_at(x, y, avenues, cross_x, cross_half, lots)
                out_range[a, b] = best
                grain = 0.8 + 0.4 * _hash(math.floor(x * 5.0), math.floor(y * 5.0))
                out_intensity[a, b] = MATERIAL_INTENSITY[mat] * grain * (0.5 + 0.5 * abs(dz))
                out_owner[a, b] = -1
            else:
                out_range[a, b] = best
                part = parts[who]
                axis = face // 2
                if axis == 2:
                    cosi = abs(dz)
                else:
                    c, s = part[6], part[7]
                    nx, ny = (c, s) if axis == 0 else (-s, c)
                    cosi = abs(nx * dx + ny * dy)
                out_intensity[a, b] = min(255.0, part[11] * (0.55 + 0.45 * cosi))
                out_owner[a, b] = int(part[13])


@njit(cache=True, inline="always")
def _shade_part(part, face, lx, ly, lz, sun):
    """RGB (0-255 floats) of a part's surface at local hit point (lx, ly, lz)."""
    r, g, b = part[8], part[9], part[10]
    texture = int(part[12])
    hx, hy, hz = part[3], part[4], part[5]
    axis = face // 2
    vertical = axis != 2
    along = (ly + hy) if axis == 0 else (lx + hx)
    zb = lz + hz
    if texture == FACADE:
        if vertical:
            if zb < 3.4:
                if 0.5 < zb < 2.8 and (along % 5.0) > 0.6:
                    r, g, b = 62.0, 72.0, 80.0
            elif (zb % 3.2) > 1.0 and (zb % 3.2) < 2.3 and (along % 3.0) > 0.8 and (along % 3.0) < 2.2 and zb < 2 * hz - 0.7:
                sky = 0.5 + 0.5 * _hash(math.floor(along / 3.0), math.floor(zb / 3.2) + part[0])
                r, g, b = 55.0 + 60.0 * sky, 68.0 + 70.0 * sky, 82.0 + 80.0 * sky
        else:
            r, g, b = r * 0.7, g * 0.7, b * 0.7
    elif texture == GLASS_SIDES:
        if vertical and zb > 0.12 * 2 * hz and zb < 0.9 * 2 * hz:
            r, g, b = 38.0, 46.0, 56.0
    elif texture == WINDOW_BAND:
        if vertical and 0.42 * 2 * hz < zb < 0.86 * 2 * hz and (along % 1.6) > 0.12:
            r, g, b = 40.0, 50.0, 60.0
    elif texture == BARRIER_STRIPE:
        if ((along + zb) % 0.6) < 0.3:
            r, g, b = 240.0, 240.0, 235.0
    # Lambertian light from the sun plus sky ambient.
    c, s = part[6], part[7]
    if axis == 2:
        nx, ny, nz = 0.0, 0.0, (1.0 if face == 5 else -1.0)
    elif axis == 0:
        sign = 1.0 if face == 1 else -1.0
        nx, ny, nz = sign * c, sign * s, 0.0
    else:
        sign = 1.0 if face == 3 else -1.0
        nx, ny, nz = -sign * s, sign * c, 0.0
    lam = max(0.0, nx * sun[0] + ny * sun[1] + nz * sun[2])
    # Sky light reaches the lower parts of a surface less (cheap ambient occlusion).
    height = part[2] + lz
    ambient = 0.5 * (0.78 + 0.22 * min(1.0, height / 1.5)) if vertical else 0.5
    light = ambient + 0.62 * lam + (0.08 if nz > 0.5 else 0.0)
    return r * light, g * light, b * light


@njit(cache=True)
def build_shadow_grid(parts, sun, x0, y0, cell, nx, ny):
    """Bin parts by the ground area their sun shadow may cover (CSR lists over an nx x ny grid of
    ``cell``-metre cells from global (x0, y0)). Returns (starts (nx*ny+1,), items)."""
    n = parts.shape[0]
    lo = np.empty((n, 2), np.int64)
    hi = np.empty((n, 2), np.int64)
    counts = np.zeros(nx * ny + 1, np.int64)
    sx, sy = sun[0] / sun[2], sun[1] / sun[2]
    for p in range(n):
        c, s = parts[p, 6], parts[p, 7]
        ex = abs(c) * parts[p, 3] + abs(s) * parts[p, 4]
        ey = abs(s) * parts[p, 3] + abs(c) * parts[p, 4]
        top = parts[p, 2] + parts[p, 5]
        xa = min(parts[p, 0] - ex, parts[p, 0] - ex - top * sx)
        xb = max(parts[p, 0] + ex, parts[p, 0] + ex - top * sx)
        ya = min(parts[p, 1] - ey, parts[p, 1] - ey - top * sy)
        yb = max(parts[p, 1] + ey, parts[p, 1] + ey - top * sy)
        lo[p, 0] = max(0, int(math.floor((xa - x0) / cell)))
        hi[p, 0] = min(nx - 1, int(math.floor((xb - x0) / cell)))
        lo[p, 1] = max(0, int(math.floor((ya - y0) / cell)))
        hi[p, 1] = min(ny - 1, int(math.floor((yb - y0) / cell)))
        for i in range(lo[p, 0], hi[p, 0] + 1):
            for j in range(lo[p, 1], hi[p, 1] + 1):
                counts[i * ny + j + 1] += 1
    starts = np.cumsum(counts)
    items = np.empty(starts[-1], np.int64)
    fill = starts[:-1].copy()
    for p in range(n):
        for i in range(lo[p, 0], hi[p, 0] + 1):
            for j in range(lo[p, 1], hi[p, 1] + 1):
                items[fill[i * ny + j]] = p
                fill[i * ny + j] += 1
    return starts, items


@njit(cache=True, inline="always")
def _in_shadow(x, y, sun, casters, starts, items, grid):
    """True if the ground point (x, y) sees no sun (a caster blocks the ray towards it)."""
    cell = grid[2]
    nx, ny = int(grid[3]), int(grid[4])
    i = int(math.floor((x - grid[0]) / cell))
    j = int(math.floor((y - grid[1]) / cell))
    if i < 0 or j < 0 or i >= nx or j >= ny:
        return False
    b = i * ny + j
    for k in range(starts[b], starts[b + 1]):
        t, _ = _hit(x, y, 1e-3, sun[0], sun[1], sun[2], casters[items[k]])
        if t < INF:
            return True
    return False


@njit(cache=True, inline="always")
def _row_span(uv, vc):
    """Horizontal extent (lo, hi) at image row ``vc`` of the convex hull of 8 points ``uv``
    (the hull's cut is spanned by the cuts of the segments between all point pairs)."""
    lo, hi = INF, -INF
    for i in range(8):
        for j in range(i + 1, 8):
            vi, vj = uv[i, 1], uv[j, 1]
            if (vi - vc) * (vj - vc) > 0.0:
                continue
            if vi == vj:
                lo = min(lo, uv[i, 0], uv[j, 0])
                hi = max(hi, uv[i, 0], uv[j, 0])
            else:
                u = uv[i, 0] + (vc - vi) * (uv[j, 0] - uv[i, 0]) / (vj - vi)
                lo = min(lo, u)
                hi = max(hi, u)
    return lo, hi


@njit(parallel=True, cache=True, fastmath=_FAST)
def render_camera(origin, rot, kinv, parts, rects, near, corners, avenues, cross_x, cross_half, lots, sun,
                  casters, starts, items, grid, image, depth):
    """Render one pinhole camera into ``image`` (H, W, 3) uint8 and ``depth`` (H, W) float32.

    ``rot`` (3, 3) is the camera-to-global rotation, ``kinv`` the inverse intrinsics, ``origin``
    the camera centre. Pixel rays are ``rot @ kinv @ (u + .5, v + .5, 1)``, so the ray parameter
    of a hit is its z in the camera frame: ``depth`` is exact z-depth, 0 for sky.
    ``rects`` (P, 4) int64 ``u0, u1, v0, v1`` bound each part's pixels (half-open); ``near``
    (P,) is each part's smallest camera z. Parts sorted near to far let occluded pixels be
    skipped with one comparison. ``corners`` (P, 8, 2) are the projected box corners (NaN for
    a part straddling the image plane): a row's span of a box is the span of its corners' hull.
    Ground shadows: ``casters`` (packed parts) binned by :func:`build_shadow_grid` into
    ``starts``/``items`` over ``grid`` = (x0, y0, cell, nx, ny).
    """
    height, width = image.shape[0], image.shape[1]
    ox, oy, oz = origin[0], origin[1], origin[2]
    n_parts = parts.shape[0]
    horizon = np.array([206.0, 218.0, 230.0])
    zenith = np.array([96.0, 140.0, 200.0])
    for v in prange(height):
        best_t = np.empty(width)
        best_p = np.full(width, -1, np.int64)
        best_f = np.full(width, -1, np.int64)
        cy = kinv[1, 1] * (v + 0.5) + kinv[1, 2]
        for u in range(width):
            cx = kinv[0, 0] * (u + 0.5) + kinv[0, 1] * (v + 0.5) + kinv[0, 2]
            dz = rot[2, 0] * cx + rot[2, 1] * cy + rot[2, 2]
            best_t[u] = -oz / dz if dz < -1e-9 else INF
        for p in range(n_parts):
            if not rects[p, 2] <= v < rects[p, 3]:
                continue
            part = parts[p]
            u0, u1 = rects[p, 0], rects[p, 1]
            if not math.isnan(corners[p, 0, 0]):
                lo, hi = _row_span(corners[p], v + 0.5)
                u0 = max(u0, int(math.floor(lo)) - 1)
                u1 = min(u1, int(math.ceil(hi)) + 1)
            for u in range(u0, u1):
                if best_t[u] < near[p]:
                    continue
                cx = kinv[0, 0] * (u + 0.5) + kinv[0, 1] * (v + 0.5) + kinv[0, 2]
                dx = rot[0, 0] * cx + rot[0, 1] * cy + rot[0, 2]
                dy = rot[1, 0] * cx + rot[1, 1] * cy + rot[1, 2]
                dz = rot[2, 0] * cx + rot[2, 1] * cy + rot[2, 2]
                t, f = _hit(ox, oy, oz, dx, dy, dz, part)
                if t < best_t[u]:
                    best_t[u], best_p[u], best_f[u] = t, p, f
        for u in range(width):
            cx = kinv[0, 0] * (u + 0.5) + kinv[0, 1] * (v + 0.5) + kinv[0, 2]
            dx = rot[0, 0] * cx + rot[0, 1] * cy + rot[0, 2]
            dy = rot[1, 0] * cx + rot[1, 1] * cy + rot[1, 2]
            dz = rot[2, 0] * cx + rot[2, 1] * cy + rot[2, 2]
            t = best_t[u]
            if best_p[u] >= 0:
                part = parts[best_p[u]]
                rx, ry = ox + t * dx - part[0], oy + t * dy - part[1]
                lx = part[6] * rx + part[7] * ry
                ly = -part[7] * rx + part[6] * ry
                lz = oz + t * dz - part[2]
                r, g, b = _shade_part(part, best_f[u], lx, ly, lz, sun)
            elif t < GROUND_FAR:
                x, y = ox + t * dx, oy + t * dy
                mat, _ = ground_at(x, y, avenues, cross_x, cross_half, lots)
                grain = 0.92 + 0.16 * _hash(math.floor(x * 8.0), math.floor(y * 8.0))
                if _in_shadow(x, y, sun, casters, starts, items, grid):
                    grain *= 0.58
                r = MATERIAL_COLOR[mat, 0] * grain * 0.95
                g = MATERIAL_COLOR[mat, 1] * grain * 0.95
                b = MATERIAL_COLOR[mat, 2] * grain * 0.95
            else:
                norm = math.sqrt(dx * dx + dy * dy + dz * dz)
                e = min(1.0, max(0.0, dz / norm * 2.5))
                image[v, u, 0] = np.uint8(horizon[0] * (1 - e) + zenith[0] * e)
                image[v, u, 1] = np.uint8(horizon[1] * (1 - e) + zenith[1] * e)
                image[v, u, 2] = np.uint8(horizon[2] * (1 - e) + zenith[2] * e)
                depth[v, u] = 0.0
                continue
            fog = math.exp(-t * math.sqrt(dx * dx + dy * dy + dz * dz) / 600.0)
            image[v, u, 0] = np.uint8(min(255.0, r * fog + horizon[0] * (1 - fog)))
            image[v, u, 1] = np.uint8(min(255.0, g * fog + horizon[1] * (1 - fog)))
            image[v, u, 2] = np.uint8(min(255.0, b * fog + horizon[2] * (1 - fog)))
            depth[v, u] = t


@njit(cache=True)
def count_in_boxes(points, center, half, cos_yaw, sin_yaw):
    """Number of points (N, >=3) inside each of B yaw-rotated boxes (closed faces), (B,) int64."""
    counts = np.zeros(center.shape[0], np.int64)
    for i in range(center.shape[0]):
        n = 0
        for p in range(points.shape[0]):
            rx = points[p, 0] - center[i, 0]
            ry = points[p, 1] - center[i, 1]
            if abs(rx) > half[i, 0] + half[i, 1] or abs(ry) > half[i, 0] + half[i, 1]:
                continue
            if (abs(cos_yaw[i] * rx + sin_yaw[i] * ry) <= half[i, 0] and abs(-sin_yaw[i] * rx + cos_yaw[i] * ry) <= half[i, 1]
                    and abs(points[p, 2] - center[i, 2]) <= half[i, 2]):
                n += 1
        counts[i] = n
    return counts
