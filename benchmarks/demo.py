"""Benchmark: ``perception demo`` from an empty Numba cache, then again with the cache filled.

Each run is a fresh process (``python -m perception.cli demo``) with ``NUMBA_CACHE_DIR`` set to
a new folder for the first run and to the same folder for the second, so the first compiles
every Numba kernel (simulator and model) and the second loads them. Reported per run: wall time,
process CPU time (user + system of the child, steadier than wall time on a shared machine), the
warm-up of the first frame and the wall time of each stage (from the demo's ``metrics.json``),
and the load average. With ``--write-docs`` the table replaces the ``## Demo`` section of
``docs/benchmarks.md``.

    OMP_NUM_THREADS=1 python benchmarks/demo.py --write-docs
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.doc_sections import write_section

DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Demo"


def run_once(out: Path, cache: Path, frames: int) -> dict:
    """One demo in a child process; its wall and CPU seconds, warm-up and stage seconds."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "perception.cli", "demo", "--out", str(out), "--frames", str(frames),
                    "--quiet"], check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "warmup_s": metrics["warmup"]["first_frame_s"], "stages": metrics["meta"]["stage_seconds"],
            "load": (load + os.getloadavg()[0]) / 2, "latency_ms": metrics["latency"]["total"]["median_ms"]}


def table(runs: list[tuple[str, dict]]) -> str:
    stages = list(runs[0][1]["stages"])
    lines = ["| run | wall (s) | CPU (s) | warm-up (s) | " + " | ".join(f"{s} (s)" for s in stages)
             + " | median latency (ms) | load average |",
             "|---|" + "---:|" * (5 + len(stages))]
    for name, r in runs:
        lines.append(f"| {name} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['warmup_s']:.1f} | "
                     + " | ".join(f"{r['stages'][s]:.1f}" for s in stages)
                     + f" | {r['latency_ms']:.0f} | {r['load']:.1f} |")
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8, help="frames of the demo (default 8, as `make demo`)")
    parser.add_argument("--write-docs", action="store_true", help="replace the Demo section of docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        cache = Path(tmp) / "numba-cache"
        runs = [(name, run_once(Path(tmp) / name, cache, args.frames)) for name in ("first (empty cache)",
                                                                                   "second (cache filled)")]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        SECTION, "",
        f"`perception demo` ({args.frames} frames, the shipped checkpoint, 60 s of cabin video), twice in fresh "
        "processes: first with an empty Numba cache (every kernel of the simulator and the model compiled), then "
        "with the cache the first run filled. CPU is the child's user + system time. Warm-up: the first frame's "
        "forward pass, run before the latency is timed. Stages: wall seconds from the demo's `metrics.json`.",
        "",
        f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} python benchmarks/demo.py "
        f"--write-docs`; {when}; 2-core machine shared with other jobs (load average in the table), so wall "
        "times are mostly waiting; CPU seconds are the steadier figure.",
        "",
        table(runs),
        "",
        "`make install` runs a one-frame demo once, so the first `make demo` after an install is the second row.",
    ])
    print(text)
    if args.write_docs:
        write_section(DOCS, text)


if __name__ == "__main__":
    main()
