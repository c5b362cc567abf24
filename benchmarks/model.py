"""Inference latency per stage, training throughput and peak memory of the fusion model.

Usage::

    python benchmarks/model.py [--config configs/tiny.yaml] [--device cpu|cuda] [--dtype fp32 bf16 fp16]
                               [--iters N] [--warmup W] [--threads T] [--write-docs]

Every measurement runs in a fresh child process (``--child``) so that its peak memory is its own.
The parent simulates the input frames once (the config's validation drives, ``sensors.sim``) and
hands them to the children through a temporary pickle.

* **Latency** (batch of 1 frame, ``model.eval()``, ``torch.inference_mode``): ``W`` warm-up
  iterations, then ``N`` timed ones; per stage the median and 90th percentile of the wall time
  (``time.perf_counter``; on CUDA each stage boundary synchronises the device). Stages:
  ``preprocessing`` (frame -> input tensors: no training targets, so no LiDAR projection),
  then forward hooks on the model's parts (``perception.inference.timing.StageTimer``): street
  ``image_encoder``, ``view_transform`` (lift + ``kernels.bev_pool``), ``lidar_encoder``
  (``kernels.hard_voxelize_batch`` + PFN + ``kernels.pillar_scatter`` + downsampling convs),
  ``fuser``, ``bev_backbone``, ``head_<task>``; the cabin image goes through
  ``ImageEncoder.pooled`` (not a ``forward``), timed by wrapping that bound method
  (``cabin_encoder``); ``model (other)`` is the forward time outside these parts (expected depth
  for the depth head, batch bookkeeping); ``postprocessing`` is decoding (rotated NMS included).
  The process CPU time of a whole iteration (``time.process_time``) is reported too: on a shared
  machine it is steadier than the wall time.
* **Kernel share**: the custom kernels the model calls through the ``kernels`` package
  (``bev_pool``, ``hard_voxelize_batch``, ``pillar_scatter``, ``points_to_depth``,
  ``rotated_nms``) are wrapped for the timed iterations; their summed wall time over the
  iteration's total, median over iterations.
* **Training** (batch of 2, ``model.train()``): forward, ``model.losses``, the ``equal``
  strategy's backward, gradient clipping and an AdamW step, as in ``perception.train.Trainer``
  (autocast in the chosen dtype; no loss scaling, so fp16 gradients may be inexact: this times
  the step, it does not train); samples per second = 2 / median step wall time.
* **Peak memory**: CPU: a separate fresh child per measurement, run with
  ``MALLOC_MMAP_THRESHOLD_=65536`` (large buffers are mmaps returned on free, so the resident set
  follows the live memory; timings come from the other child, without it): after one warm-up
  iteration the peak resident set is reset (``/proc/self/clear_refs`` = 5) and the peak extra
  memory of one iteration is ``VmHWM`` after it minus ``VmRSS`` before it (``/proc/self/status``);
  the process's peak resident set (``VmHWM``: interpreter, libraries, model and inputs included)
  is given too. CUDA: ``torch.cuda.max_memory_allocated`` over the timed iterations (reset after
  the warm-up).

``--write-docs`` replaces the ``### <config>, <device>`` subsection of the ``## Model`` section of
docs/benchmarks.md (the rest of the file and the other subsections are kept).
"""
from __future__ import annotations

import os

# Numba's default OpenMP layer busy-waits and fights torch's threads for the cores (docs/model.md).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse
import contextlib
import json
import math
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from benchmarks.doc_sections import replace_subsection
from sensors.atomic import atomic_write_text

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Model"
#: Custom kernels the model and its pre/postprocessing call through the ``kernels`` package.
KERNELS: tuple[str, ...] = ("bev_pool", "hard_voxelize_batch", "pillar_scatter", "points_to_depth", "rotated_nms")
DTYPES = {"fp32": None, "fp16": "float16", "bf16": "bfloat16"}
TRAIN_BATCH = 2
#: Environment of the CPU peak-memory runs: every buffer over 64 KiB is its own mmap, returned to
#: the system when freed, so the resident set follows the live memory (glibc otherwise keeps
#: freed heap, and the warm-up's peak would hide the measured one).
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


# ----------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation) of ``values``; NaN when empty."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


def stage_stats(per_iter: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median and p90 (ms) per stage of a list of per-iteration {stage: seconds}.

    A stage missing from an iteration counts as 0 s in it (e.g. no NMS when nothing is detected).
    """
    names = sorted({k for it in per_iter for k in it})
    out = {}
    for name in names:
        values = [it.get(name, 0.0) * 1000.0 for it in per_iter]
        out[name] = {"median_ms": percentile(values, 50), "p90_ms": percentile(values, 90)}
    return out


def kernel_shares(per_iter: Sequence[dict[str, float]], totals: Sequence[float]) -> dict[str, float]:
    """Median over iterations of each kernel's wall time / the iteration's total, plus ``all``.

    Args:
        per_iter: {kernel: seconds} per iteration.
        totals: total seconds of each iteration (same order); must be positive.
    """
    if len(per_iter) != len(totals):
        raise ValueError(f"{len(per_iter)} kernel timings for {len(totals)} iterations")
    names = sorted({k for it in per_iter for k in it})
    shares = {n: percentile([it.get(n, 0.0) / t for it, t in zip(per_iter, totals)], 50) for n in names}
    shares["all"] = percentile([sum(it.values()) / t for it, t in zip(per_iter, totals)], 50)
    return shares


# ----------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


class PeakMemory:
    """Peak memory of a block of work: CPU resident set (``/proc``) or CUDA allocations (MB)."""

    def __init__(self, device: Any) -> None:
        self.cuda = device.type == "cuda"
        self.before_kb = 0

    def start(self) -> None:
        """Reset the peak counters; call right before the measured work."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return
        Path("/proc/self/clear_refs").write_text("5")
        self.before_kb = _status_kb("VmRSS")

    def stop(self) -> dict[str, float]:
        """``peak_extra_mb`` (peak minus the memory in use at :meth:`start`) and ``peak_mb``."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / 2**20
            return {"peak_extra_mb": peak - torch.cuda.memory_allocated() / 2**20, "peak_mb": peak}
        hwm = _status_kb("VmHWM")
        return {"peak_extra_mb": (hwm - self.before_kb) / 1024.0, "peak_mb": hwm / 1024.0}


# ----------------------------------------------------------------------------- timing helpers


class KernelTimer:
    """Wraps the ``kernels`` package's public functions (module attributes, which the model
    looks up at call time) and sums their wall time per iteration; nested calls count once."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.current: dict[str, float] = {}
        self._depth = 0

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            self.sync()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.sync()
                self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - start
                self._depth -= 1

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Patch ``kernels.<name>`` for every name in :data:`KERNELS` for the ``with`` block."""
        import kernels

        originals = {name: getattr(kernels, name) for name in KERNELS}
        try:
            for name, fn in originals.items():
                setattr(kernels, name, self._wrap(name, fn))
            yield
        finally:
            for name, fn in originals.items():
                setattr(kernels, name, fn)

    def take(self) -> dict[str, float]:
        """Seconds per kernel since the last call, then reset."""
        out, self.current = self.current, {}
        return out


def _autocast(device: Any, dtype: str) -> contextlib.AbstractContextManager[Any]:
    import torch

    name = DTYPES[dtype]
    if name is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, name))


# ----------------------------------------------------------------------------- child measurements


def _setup(spec: dict[str, Any]) -> tuple[Any, Any, Any, list[Any]]:
    import torch

    from perception.config import load_config
    from perception.model import FusionModel
    from perception.train.rng import seed_everything

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    config = load_config(spec["config"])
    device = torch.device(spec["device"])
    seed_everything(0)
    model = FusionModel(config.model)
    if spec.get("checkpoint"):
        from perception.checkpoint import load_checkpoint
        from perception.config import config_to_dict

        load_checkpoint(spec["checkpoint"], model, config_to_dict(config))
    model = model.to(device)
    with open(spec["frames"], "rb") as handle:
        frames = pickle.load(handle)
    return config, model, device, frames


def measure_latency(spec: dict[str, Any]) -> dict[str, Any]:
    """Per-stage inference latency, kernel share and peak memory (run in a child process)."""
    import torch

    from perception.data import collate_inputs, frame_to_inputs
    from perception.inference.timing import StageTimer

    config, model, device, frames = _setup(spec)
    model.eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    timer = StageTimer(device)
    kernel_timer = KernelTimer(sync)
    encoder = model.image_encoder
    if encoder is not None:
        plain_pooled = encoder.pooled

        def timed_pooled(images: torch.Tensor) -> torch.Tensor:
            with timer.stage("cabin_encoder"):
                return plain_pooled(images)

        encoder.pooled = timed_pooled  # instance attribute: the class's method is untouched
    frame = frames[0]

    def iteration() -> None:
        with timer.stage("total"):
            with timer.stage("preprocessing"):
                inputs = collate_inputs([frame_to_inputs(frame, config.model)]).to(device)
            with torch.inference_mode(), _autocast(device, spec["dtype"]), timer.stage("model"):
                outputs = model(inputs)
            with timer.stage("postprocessing"):
                model.decode(outputs)

    for _ in range(spec["warmup"]):
        iteration()
    timer.take()
    memory = PeakMemory(device)
    stages: list[dict[str, float]] = []
    kernel_times: list[dict[str, float]] = []
    cpu: list[float] = []
    timer.attach(model)
    memory.start()
    with kernel_timer.installed():
        for _ in range(spec["iters"]):
            kernel_timer.take()
            c0 = time.process_time()
            iteration()
            cpu.append(time.process_time() - c0)
            times = timer.take()
            parts = sum(v for k, v in times.items() if k not in ("total", "model", "preprocessing", "postprocessing"))
            times["model (other)"] = max(times["model"] - parts, 0.0)
            stages.append(times)
            kernel_times.append(kernel_timer.take())
    peak = memory.stop()
    timer.detach()
    return {
        "stages": stage_stats(stages),
        "cpu_ms": {"median_ms": percentile([c * 1000 for c in cpu], 50), "p90_ms": percentile([c * 1000 for c in cpu], 90)},
        "kernels": kernel_shares(kernel_times, [s["total"] for s in stages]),
        "kernel_ms": stage_stats(kernel_times),
        "memory": peak,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def measure_training(spec: dict[str, Any]) -> dict[str, Any]:
    """Training samples per second (batch of 2) and peak memory (run in a child process)."""
    import torch

    from perception.data import collate_frames, frame_to_sample
    from perception.mtl import make_strategy
    from perception.train.optim import build_optimizer

    config, model, device, frames = _setup(spec)
    model.train()
    strategy = make_strategy("equal", model.tasks)
    optimizer = build_optimizer(model, strategy.extra_param_groups(), config.train.lr, config.train.weight_decay)
    shared = model.shared_parameters()
    heads = [p for params in model.task_parameters().values() for p in params]
    batch = collate_frames([frame_to_sample(f, config.model) for f in frames[:TRAIN_BATCH]]).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        with _autocast(device, spec["dtype"]):
            outputs = model(batch)
            task_losses = model.losses(outputs, batch)
        losses = {
            n: torch.where(t.present, t.per_sample.float(), 0.0).sum() / t.present.sum()
            for n, t in task_losses.items()
            if bool(t.present.any())
        }
        optimizer.zero_grad(set_to_none=True)
        strategy.backward(losses, shared, heads)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip or math.inf)
        optimizer.step()

    for _ in range(spec["warmup"]):
        step()
    memory = PeakMemory(device)
    memory.start()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(spec["iters"]):
        sync()
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    median = percentile(wall, 50)
    return {
        "step_ms": {"median_ms": median * 1000, "p90_ms": percentile(wall, 90) * 1000},
        "cpu_ms": percentile(cpu, 50) * 1000,
        "samples_per_s": len(frames[:TRAIN_BATCH]) / median,
        "memory": memory.stop(),
    }


# ----------------------------------------------------------------------------- orchestration


def run_child(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh Python process (``env`` added to its environment) and
    return its JSON result."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measurement {spec['kind']} ({spec['dtype']}) failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def simulate_frames(config_path: Path, count: int) -> list[Any]:
    """The first ``count`` frames of the config's simulated validation drives."""
    from perception.config import load_config
    from perception.inference.sources import open_eval_source

    source = open_eval_source("sim", "val", load_config(config_path), max_samples=count)
    return [source.frames[i] for i in range(count)]


STAGE_ORDER = ("preprocessing", "image_encoder", "cabin_encoder", "image_adapters", "view_transform", "lidar_encoder", "fuser",
               "bev_backbone", "head_detection", "head_segmentation", "head_depth", "head_driver", "model (other)",
               "postprocessing", "model", "total")


def format_section(name: str, device: str, results: dict[str, Any], meta: dict[str, Any]) -> str:
    """The ``### <name>, <device>`` markdown subsection of the results."""
    lines = [f"### {name}, {device}", ""]
    lines.append(
        f"Command: `{meta['command']}`; {meta['machine']}; torch {meta['torch']}, {meta['threads']} torch "
        f"thread(s); {meta['date']}. {meta['parameters'] / 1e6:.2f} M parameters. Load average before / after "
        f"the run: {meta['load_before']} / {meta['load_after']}"
        + (f"; niceness {meta.get('niceness', 0)} (on a shared machine wall times are noisy; the CPU time row "
           "is steadier)." if device == "cpu" else ".")
        + f" Weights: {meta['weights']}."
    )
    lines.append(f"Median and p90 over {meta['iters']} iterations after {meta['warmup']} warm-up ones, "
                 "batch of 1 frame (six cameras, LiDAR sweep, cabin image); see the script's docstring for "
                 "the method.")
    lines.append("")
    failures = [f"{kind} {d}: {r['error']}" for kind in ("latency", "training") for d, r in results[kind].items()
                if "error" in r]
    dtypes = [d for d, r in results["latency"].items() if "error" not in r]
    header = "| stage | " + " | ".join(f"{d} median (ms) | {d} p90 (ms)" for d in dtypes) + " |"
    lines += [header, "| --- |" + " ---: | ---: |" * len(dtypes)]
    for stage in STAGE_ORDER:
        if not any(stage in results["latency"][d]["stages"] for d in dtypes):
            continue
        cells = []
        for d in dtypes:
            s = results["latency"][d]["stages"].get(stage)
            cells.append(f"{s['median_ms']:.1f} | {s['p90_ms']:.1f}" if s else "– | –")
        label = f"**{stage}**" if stage in ("model", "total") else stage
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cpu_cells = [f"{results['latency'][d]['cpu_ms']['median_ms']:.1f} | {results['latency'][d]['cpu_ms']['p90_ms']:.1f}"
                 for d in dtypes]
    lines.append("| total, process CPU time | " + " | ".join(cpu_cells) + " |")
    lines += ["", "Share of the total latency spent in the custom kernels (median over iterations):", ""]
    lines += ["| kernel | " + " | ".join(dtypes) + " |", "| --- |" + " ---: |" * len(dtypes)]
    for kernel in (*KERNELS, "all"):
        cells = [results["latency"][d]["kernels"].get(kernel) for d in dtypes]
        if all(c is None for c in cells):
            continue
        lines.append(f"| {kernel} | " + " | ".join("–" if c is None else f"{c * 100:.1f}%" for c in cells) + " |")
    lines += ["", "Training (batch of 2: forward, losses, equal-weights backward, clip, AdamW step) and peak memory:", ""]
    lines += ["| dtype | train samples/s | step median (ms) | step CPU (ms) | inference peak extra (MB) | "
              "inference process peak (MB) | training peak extra (MB) | training process peak (MB) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for d in dtypes:
        t = results["training"][d]
        if "error" in t:
            continue
        m = results["latency"][d]["memory"]
        lines.append(f"| {d} | {t['samples_per_s']:.2f} | {t['step_ms']['median_ms']:.0f} | {t['cpu_ms']:.0f} | "
                     f"{m['peak_extra_mb']:.0f} | {m['peak_mb']:.0f} | {t['memory']['peak_extra_mb']:.0f} | "
                     f"{t['memory']['peak_mb']:.0f} |")
    memory_note = ("CUDA: `torch.cuda.max_memory_allocated`, so 'process peak' is the allocator's peak."
                   if device == "cuda" else
                   "CPU: resident set from `/proc/self/status` in a separate fresh process per row with "
                   "`MALLOC_MMAP_THRESHOLD_=65536` (freed buffers go back to the system), peak reset with "
                   "`/proc/self/clear_refs` after one warm-up iteration; 'extra' is the peak of one iteration over "
                   "the memory in use before it, 'process peak' the whole process (interpreter, libraries, model).")
    lines += ["", memory_note, ""]
    if failures:
        lines += ["Failed measurements (left out above):", ""] + [f"- {f}" for f in failures] + [""]
    return "\n".join(lines)



def write_docs(section_text: str) -> None:
    """Put the subsection into docs/benchmarks.md atomically (temp file, then ``os.replace``)."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    new = replace_subsection(text, SECTION, section_text)
    atomic_write_text(DOC, new)


def checkpoint_label(path: Path | None) -> str:
    """How the weights are described in the docs: the checkpoint's file name and training step."""
    if path is None:
        return "random (no checkpoint)"
    from perception.checkpoint import load_checkpoint

    return f"`{path.name}` at training step {int(load_checkpoint(path)['step'])}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tiny.yaml")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", nargs="+", choices=tuple(DTYPES),
                        help="autocast dtypes to measure (default: fp32 on CPU; fp32 bf16 fp16 on CUDA)")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per measurement (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up iterations (default 2)")
    parser.add_argument("--checkpoint", type=Path,
                        help="weights to load (e.g. the shipped tiny checkpoint; random weights detect nothing, so "
                             "decoding never reaches rotated NMS)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; 0: torch's default). On a shared CPU, several OpenMP "
                             "threads waiting for a descheduled sibling inflate the times many-fold")
    parser.add_argument("--write-docs", action="store_true", help="update the Model section of docs/benchmarks.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        result = measure_latency(spec) if spec["kind"] == "latency" else measure_training(spec)
        print(json.dumps(result))
        return 0
    if args.iters < 1 or args.warmup < 1:
        parser.error("--iters and --warmup must be at least 1")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    dtypes = args.dtype or (["fp32", "bf16", "fp16"] if args.device == "cuda" else ["fp32"])
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    results: dict[str, Any] = {"latency": {}, "training": {}}
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = Path(tmp) / "frames.pkl"
        with open(frames_path, "wb") as handle:
            pickle.dump(simulate_frames(args.config, TRAIN_BATCH), handle)
        for dtype in dtypes:
            for kind in ("latency", "training"):
                spec = {"kind": kind, "config": str(args.config), "device": args.device, "dtype": dtype,
                        "iters": args.iters, "warmup": args.warmup, "threads": args.threads, "frames": str(frames_path),
                        "checkpoint": str(args.checkpoint) if args.checkpoint else None}
                print(f"measuring {kind} ({dtype}) ...", file=sys.stderr)
                try:
                    results[kind][dtype] = run_child(spec)
                    if args.device == "cpu":
                        print(f"measuring {kind} ({dtype}) peak memory ...", file=sys.stderr)
                        memory = run_child({**spec, "iters": 1, "warmup": 1}, MEMORY_ENV)
                        results[kind][dtype]["memory"] = memory["memory"]
                except RuntimeError as error:  # keep the other dtypes' results; the table names the failure
                    print(error, file=sys.stderr)
                    results[kind][dtype] = {"error": str(error).strip().splitlines()[-1][:200]}
    measured = [r for r in results["latency"].values() if "error" not in r]
    if not measured:
        print("every latency measurement failed", file=sys.stderr)
        return 1
    latency0 = measured[0]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    if args.device == "cuda":
        machine += f", {torch.cuda.get_device_name()}"
    command = "python benchmarks/model.py " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    meta = {
        "command": command.strip(), "machine": machine, "torch": torch.__version__, "threads": latency0["threads"],
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "parameters": latency0["parameters"],
        "load_before": load_before, "load_after": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
        "iters": args.iters, "warmup": args.warmup, "niceness": os.nice(0),
        "weights": checkpoint_label(args.checkpoint),
    }
    section = format_section(args.config.stem, args.device, results, meta)
    print(section)
    print(json.dumps({"meta": meta, "results": results}), file=sys.stderr)
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
