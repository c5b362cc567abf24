"""Speed and peak memory of the kernels against their torch references (and spconv), one run.

Usage: ``python benchmarks/kernels.py [--quick] [--no-write]``

Each measurement runs in a fresh child process (``--child SPEC``) so that peak memory is
not hidden by memory an earlier measurement freed: the child starts with
``MALLOC_MMAP_THRESHOLD_=65536`` (every large buffer is a fresh mmap and shows in the resident
set), builds its inputs, warms the op up once (JIT load), resets the peak resident set size
(``/proc/self/clear_refs`` = 5), runs the op once and reports ``VmHWM - VmRSS before`` as the
op's peak extra memory. It then sets glibc's mmap threshold to 32 MiB (its largest automatic
value, so buffers are reused between calls as in a long-running process) and times the op:
median of repeats of the wall time (``time.perf_counter``) and of the process CPU time
(``time.process_time``). The speed ratios use CPU time: every measurement runs on the same
number of threads (``--threads``, default 1), where CPU time is what the wall time would be
on an idle core, while on the shared benchmark machine (load average near 10 on 2 cores)
the wall time mostly measures waiting for a core. The table is printed and written to the ``## Kernels`` section of
docs/benchmarks.md (the rest of that file is kept).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this script is named like the package it measures: make `import kernels` find the package
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
import torch

from benchmarks.doc_sections import write_section

DOC = ROOT / "docs" / "benchmarks.md"
POINT_RANGE = (-54.0, -54.0, -5.0, 54.0, 54.0, 3.0)
BEV_SIZES = {
    # cameras, depth bins, feature H, W, channels, grid cells per side, cell (m)
    "base": (6, 118, 32, 88, 80, 180, 0.6),
    "tiny": (6, 32, 16, 44, 32, 128, 0.8),
}


# ----------------------------------------------------------------------------- inputs


def lidar_sweep(rng: np.random.Generator, ego_x: float = 0.0) -> np.ndarray:
    """(N, 5) float32 x, y, z, intensity, time of one 32-beam spinning LiDAR sweep (~35k points).

    Beams at nuScenes HDL-32E elevations (-30.67 to +10.67 deg), 1085 azimuth steps, sensor
    1.84 m above a flat ground; each of 90 azimuth sectors has an obstacle (car, wall or
    building) at a random distance, so the cloud is rings on the ground plus dense vertical
    structure, as in a street. Rays that hit nothing within 80 m are dropped. ``ego_x`` shifts
    the sweep backwards, as when earlier sweeps are moved into the current ego frame.
    """
    elev = np.radians(np.linspace(-30.67, 10.67, 32))[:, None]
    azim = np.linspace(-np.pi, np.pi, 1085, endpoint=False)[None, :] + rng.uniform(0, 0.005)
    height = 1.84
    sectors = 90
    sector = ((azim + np.pi) / (2 * np.pi) * sectors).astype(int) % sectors
    obstacle_dist = rng.uniform(3.0, 45.0, sectors)[sector]
    obstacle_top = rng.choice([1.6, 3.5, 12.0], sectors)[sector]
    ground = np.where(elev < 0, height / np.tan(-np.minimum(elev, -1e-6)), np.inf)
    z_at_obstacle = height + obstacle_dist * np.tan(elev)
    hits_obstacle = (z_at_obstacle <= obstacle_top) & (obstacle_dist < ground)
    rng_m = np.where(hits_obstacle, obstacle_dist / np.cos(elev), ground / np.cos(elev))
    rng_m = np.broadcast_to(rng_m, (32, 1085))
    keep = rng_m < 80.0
    r = rng_m[keep] + rng.normal(0, 0.02, keep.sum())
    el = np.broadcast_to(elev, (32, 1085))[keep]
    az = np.broadcast_to(azim, (32, 1085))[keep]
    x = r * np.cos(el) * np.cos(az) - ego_x
    y = r * np.cos(el) * np.sin(az)
    z = r * np.sin(el) + height  # ego origin on the ground under the sensor
    intensity = rng.uniform(0, 255, x.size)
    t = np.full(x.size, -ego_x / 10.0)
    return np.stack([x, y, z, intensity, t], axis=1).astype(np.float32)


def lidar_points(sweeps: int) -> torch.Tensor:
    """One sweep (~35k points) or ``sweeps`` aggregated sweeps, ego moving 1 m per sweep."""
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.concatenate([lidar_sweep(rng, ego_x=1.0 * k) for k in range(sweeps)]))


def camera_rig(size: str):
    """(frustum (N, D, H, W, 3) ego metres, BevPoolGeometry) for 6 cameras around the car."""
    import kernels

    n, d, h, w, _, cells, cell = BEV_SIZES[size]
    depths = torch.linspace(1.0, 60.0, d)
    focal = w / 2 / math.tan(math.radians(35))
    xc = (torch.arange(w) + 0.5 - w / 2) / focal
    yc = (torch.arange(h) + 0.5 - h / 2) / focal
    fwd = depths[:, None, None].expand(d, h, w)
    left = -(xc[None, None, :] * depths[:, None, None]).expand(d, h, w)
    up = 1.5 - (yc[None, :, None] * depths[:, None, None]).expand(d, h, w)
    frustum = torch.empty(n, d, h, w, 3)
    for cam in range(n):
        yaw = 2 * math.pi * cam / n
        frustum[cam, ..., 0] = fwd * math.cos(yaw) - left * math.sin(yaw) + 1.0
        frustum[cam, ..., 1] = fwd * math.sin(yaw) + left * math.cos(yaw)
        frustum[cam, ..., 2] = up
    half = cells * cell / 2
    return frustum, kernels.BevPoolGeometry(-half, -half, -5.0, half, half, 3.0, cell, cell)


# ----------------------------------------------------------------------------- child side


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _build(spec: dict):
    """A zero-argument callable running the op described by ``spec``."""
    import kernels

    op, impl = spec["op"], spec["impl"]
    if op == "voxelize":
        points = lidar_points(spec["sweeps"])
        v = spec["voxel"]
        size = (v, v, 0.2)
        if impl == "spconv":
            from spconv.pytorch.utils import PointToVoxel

            gen = PointToVoxel(
                vsize_xyz=list(size), coors_range_xyz=list(POINT_RANGE), num_point_features=5,
                max_num_voxels=spec["max_voxels"], max_num_points_per_voxel=10, device=torch.device("cpu"),
            )
            return lambda: gen(points)
        return lambda: kernels.hard_voxelize(points, size, POINT_RANGE, 10, spec["max_voxels"], backend=impl)
    if op == "bev_pool":
        frustum, grid = camera_rig(spec["size"])
        ranks = kernels.precompute_bev_pool(frustum, grid)
        n, d, h, w, c, _, _ = BEV_SIZES[spec["size"]]
        g = torch.Generator().manual_seed(0)
        depth = torch.rand(1, n, d, h, w, generator=g).softmax(2)
        context = torch.randn(1, n, h, w, c, generator=g)
        if spec["pass"] == "forward":
            def run():
                with torch.no_grad():
                    return kernels.bev_pool(depth, context, ranks, backend=impl)
            return run
        depth.requires_grad_(True)
        context.requires_grad_(True)

        def run_train():
            out = kernels.bev_pool(depth, context, ranks, backend=impl)
            return torch.autograd.grad(out.sum(), (depth, context))

        return run_train
    if op == "pillar_scatter":
        points = lidar_points(1)
        vox = kernels.hard_voxelize_batch([points, points], (0.2, 0.2, 8.0), POINT_RANGE, 20, 30000)
        features = torch.randn(vox.coords.shape[0], 64, requires_grad=True)

        def run_scatter():
            out = kernels.pillar_scatter(features, vox.coords, 2, (540, 540), backend=impl)
            return torch.autograd.grad(out.sum(), features)

        return run_scatter
    if op == "points_to_depth":
        points = lidar_points(10)[:, :3].contiguous()
        pose = torch.tensor([[0.0, -1, 0, 0], [0, 0, -1, 1.5], [1, 0, 0, -1.0], [0, 0, 0, 1]])
        k = torch.tensor([[1266.0, 0, 816], [0, 1266, 491], [0, 0, 1]])
        return lambda: kernels.points_to_depth(points, pose, k, (900, 1600), backend=impl)
    if op == "rotated_nms":
        g = torch.Generator().manual_seed(0)
        boxes = torch.cat([torch.rand(300, 2, generator=g) * 60 - 30, torch.rand(300, 2, generator=g) * 4 + 0.5,
                           torch.rand(300, 1, generator=g) * 6.3], dim=1)
        scores = torch.rand(300, generator=g)
        return lambda: kernels.rotated_nms(boxes, scores, 0.2, backend=impl)
    raise ValueError(f"unknown op {op!r}")


def child(spec: dict) -> dict:
    """Measure one (op, implementation): peak extra RSS of one call, then median time."""
    run = _build(spec)
    run()  # warm-up: JIT cache load, first-touch of library buffers
    peak_mb = float("nan")
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kb("VmRSS")
        result = run()
        peak_mb = (_status_kb("VmHWM") - before) / 1024
        del result
    except OSError:
        pass
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
    run()
    times, cpu_times = [], []
    for _ in range(spec["repeats"]):
        start, cpu_start = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return {
        "time_ms": 1e3 * statistics.median(times),
        "cpu_ms": 1e3 * statistics.median(cpu_times),
        "peak_mb": peak_mb,
    }


# ----------------------------------------------------------------------------- parent side


def measure(spec: dict, threads: int) -> dict:
    env = dict(
        os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], env=env, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed for {spec}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plan(quick: bool) -> list[tuple[str, str, list[dict]]]:
    """(group, case, specs) where the first spec of each case is the reference."""
    reps = 3 if quick else 7
    cases = []
    for sweeps, label in ((1, "1 sweep"), (10, "10 sweeps")):
        for voxel in ((0.1,) if quick else (0.075, 0.1, 0.2)):
            specs = [
                {"op": "voxelize", "sweeps": sweeps, "voxel": voxel, "max_voxels": 150000, "impl": impl, "repeats": reps}
                for impl in ("reference", "numba", "spconv")
            ]
            cases.append(("voxelize", f"{label}, {voxel} m", specs))
    for size in ("tiny",) if quick else ("tiny", "base"):
        for pass_ in ("forward", "forward_backward"):
            specs = [{"op": "bev_pool", "size": size, "pass": pass_, "impl": impl, "repeats": reps}
                     for impl in ("reference", "numba")]
            cases.append(("bev_pool", f"{size}, {pass_.replace('_', '+')}", specs))
    for op, case in (("pillar_scatter", "2 x 1 sweep, 0.2 m pillars, 64 ch, 540x540, fwd+bwd"),
                     ("points_to_depth", "10 sweeps into 1600x900"),
                     ("rotated_nms", "300 boxes, IoU 0.2")):
        cases.append((op, case, [{"op": op, "impl": impl, "repeats": reps} for impl in ("reference", "numba")]))
    return cases


def run_all(quick: bool, threads: int) -> list[dict]:
    rows = []
    for group, case, specs in plan(quick):
        results = [measure(spec, threads) for spec in specs]
        ref = results[0]
        for spec, res in zip(specs, results):
            row = {
                "op": group, "case": case, "impl": spec["impl"], **res,
                "speedup": ref["cpu_ms"] / res["cpu_ms"],
                "memory_ratio": res["peak_mb"] / ref["peak_mb"] if ref["peak_mb"] > 0 else float("nan"),
            }
            rows.append(row)
            print(f"{group:16s} {case:52s} {spec['impl']:10s} {res['time_ms']:10.2f} ms {res['cpu_ms']:10.2f} cpu-ms "
                  f"{res['peak_mb']:9.1f} MB "
                  f"x{row['speedup']:7.2f} mem x{row['memory_ratio']:.3f}", flush=True)
        if group == "voxelize":
            numba_ms = results[1]["cpu_ms"]
            print(f"{'':16s} {'':52s} numba vs spconv: x{results[2]['cpu_ms'] / numba_ms:.2f}", flush=True)
    return rows


def table(rows: list[dict], quick: bool, threads: int) -> str:
    lines = [
        "## Kernels",
        "",
        f"`python benchmarks/kernels.py{' --quick' if quick else ''} --threads {threads}` on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs (numbers are "
        f"noisy), `OMP_NUM_THREADS` = `NUMBA_NUM_THREADS` = {threads} in every measurement, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. CPU only: no GPU result was measured.",
        "",
        "Wall and CPU: medians over repeated calls of the wall time and of the process CPU time. Peak memory: "
        "increase of the peak resident set during one call (`/proc/self/clear_refs` reset, `VmHWM - VmRSS`), in a "
        "fresh process per row. `speed` (from CPU time, see the script's docstring: with every row on the same "
        "thread count it is the idle-core wall time, while the shared machine's wall time is mostly waiting) and "
        "`memory` are ratios to the torch reference of the same case (speed > 1 is faster; memory < 1 is smaller); "
        "`vs spconv` is spconv `PointToVoxel` (CPU) CPU time / this row's CPU time.",
        "",
        "| op | case | backend | wall (ms) | CPU (ms) | peak (MB) | speed vs reference | memory vs reference | vs spconv |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    spconv = {(r["op"], r["case"]): r["cpu_ms"] for r in rows if r["impl"] == "spconv"}
    for r in rows:
        vs = spconv.get((r["op"], r["case"]))
        vs_text = "" if vs is None else f"{vs / r['cpu_ms']:.2f}"
        lines.append(
            f"| {r['op']} | {r['case']} | {r['impl']} | {r['time_ms']:.2f} | {r['cpu_ms']:.2f} | {r['peak_mb']:.1f} | "
            f"{r['speedup']:.2f} | {r['memory_ratio']:.3f} | {vs_text} |"
        )
    lines += ["", *goals(rows)]
    return "\n".join(lines) + "\n"


def goals(rows: list[dict]) -> list[str]:
    """The kernels' CPU speed goals, each with the measured ratio (CPU time) and whether it is met."""
    out = ["Kernel speed goals on this CPU (speed from CPU time):", ""]
    by = {(r["op"], r["case"], r["impl"]): r for r in rows}
    for case in sorted({r["case"] for r in rows if r["op"] == "voxelize" and r["case"].startswith("10 sweeps")}):
        numba, ref, spc = (by.get(("voxelize", case, impl)) for impl in ("numba", "reference", "spconv"))
        vs_ref = numba["speedup"]
        vs_spconv = spc["cpu_ms"] / numba["cpu_ms"]
        out.append(
            f"- voxelize, {case}: x{vs_ref:.1f} vs torch reference (goal 3: {'met' if vs_ref >= 3 else 'NOT met'}), "
            f"x{vs_spconv:.2f} vs spconv (goal 2: {'met' if vs_spconv >= 2 else 'NOT met'})"
        )
    for case in sorted({r["case"] for r in rows if r["op"] == "bev_pool"}):
        numba = by[("bev_pool", case, "numba")]
        ok = numba["speedup"] >= 10 and numba["memory_ratio"] <= 0.1
        out.append(
            f"- bev_pool, {case}: x{numba['speedup']:.1f} faster, x{numba['memory_ratio']:.3f} peak memory "
            f"(goal 10 and 0.1: {'met' if ok else 'NOT met'})"
        )
    return out



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="CPU threads for torch (OMP_NUM_THREADS) and Numba in every measurement (default 1: the machine is shared)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    rows = run_all(args.quick, args.threads)
    section = table(rows, args.quick, args.threads)
    print(section)
    if not args.no_write:
        write_section(DOC, section)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
