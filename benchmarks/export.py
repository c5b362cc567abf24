"""PyTorch eager vs ONNX Runtime (fp32 and dynamic int8) on the CPU: latency, throughput, accuracy.

Usage::

    python benchmarks/export.py [--checkpoint perception/checkpoints/tiny.pt] [--frames 4] [--rounds 3]
                                [--threads 1 2] [--accuracy-frames 8] [--cabin-seconds 20] [--write-docs]

One process, one run: the checkpoint is exported with ``perception.export.export_onnx`` and
quantised with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations quantised
per call); then the validation frames of the checkpoint's config (``--data sim``) are run through
every runtime x thread count, round-robin (``--rounds`` rounds over ``--frames`` frames, one
warm-up pass first), so that a change of the machine's load hits every row alike:

* **network**: the forward pass on a preprocessed batch (batch of 1): ``FusionModel.__call__``
  (voxelization and ``kernels.bev_pool`` inside) or ``OnnxRunner.__call__`` (voxelization and the
  cached BEV-pool ranks, then ``InferenceSession.run``, graph optimisations on);
* **end to end**: frame -> ``frame_to_inputs`` -> collate -> network -> ``decode_outputs``
  (rotated NMS included): the same pre- and postprocessing code for every runtime.

Median and p90 of the wall time per frame, the median process CPU time per frame (steadier on a
shared machine), samples per second = 1 / median end-to-end wall time, and each runtime's speed-up
over eager at the same thread count (ratios within this run). Torch and Numba get ``t`` threads
(``torch.set_num_threads``, ``numba.set_num_threads``), ONNX Runtime ``intra_op_num_threads = t``.

Accuracy: ``perception.inference.pipeline.evaluate_model`` on the first ``--accuracy-frames`` validation
frames (and ``--cabin-seconds`` of the simulated cabin stream) for eager, ONNX Runtime fp32 and
int8: NDS, mAP, mIoU, AbsRel, gaze accuracy.

``--write-docs`` replaces the ``## Export (ONNX Runtime)`` section of docs/benchmarks.md.
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # as benchmarks/model.py (docs/model.md)

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from benchmarks.doc_sections import write_section

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Export (ONNX Runtime)"


def quantize(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantisation of ``src`` (weights int8, activations per call), metadata kept."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    model = onnx.load(str(dst))
    if not model.metadata_props:
        for prop in onnx.load(str(src), load_external_data=False).metadata_props:
            model.metadata_props.add(key=prop.key, value=prop.value)
        onnx.save_model(model, str(dst))
    return dst


def set_threads(threads: int) -> None:
    """Torch and Numba thread pools to ``threads``."""
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def timed_frame(network: Callable, frame: Any, config: Any) -> dict[str, float]:
    """Seconds (wall and process CPU) of one frame end to end and of its network call."""
    import torch

    from perception.data import collate_inputs, frame_to_inputs
    from perception.model import decode_outputs

    wall0, cpu0 = time.perf_counter(), time.process_time()
    batch = collate_inputs([frame_to_inputs(frame, config)])
    with torch.inference_mode():
        net0 = time.perf_counter()
        outputs = network(batch)
        net1 = time.perf_counter()
    decode_outputs(outputs, config)
    return {"e2e": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0, "network": net1 - net0}


def stats(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values) * 1000
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90))}


def measure_speed(runtimes: dict[str, Callable[[int], Callable]], frames: list, config: Any,
                  threads: Sequence[int], rounds: int) -> dict[str, dict[str, Any]]:
    """Round-robin timing of every (runtime, threads) pair; see the module docstring."""
    rows = [(name, t) for t in threads for name in runtimes]
    networks = {}
    for name, t in rows:
        set_threads(t)
        networks[(name, t)] = runtimes[name](t)
        timed_frame(networks[(name, t)], frames[0], config)  # warm-up: one-off set-up, JIT, caches
    samples: dict[tuple[str, int], list[dict[str, float]]] = {row: [] for row in rows}
    for _ in range(rounds):
        for frame in frames:
            for name, t in rows:
                set_threads(t)
                samples[(name, t)].append(timed_frame(networks[(name, t)], frame, config))
    results: dict[str, dict[str, Any]] = {}
    for (name, t), s in samples.items():
        e2e = stats([x["e2e"] for x in s])
        results[f"{name}|{t}"] = {
            "runtime": name, "threads": t, "network": stats([x["network"] for x in s]), "e2e": e2e,
            "cpu_ms": float(np.median([x["cpu"] for x in s]) * 1000), "samples_per_s": 1000.0 / e2e["median_ms"],
            "count": len(s),
        }
    return results


def measure_accuracy(networks: dict[str, Any], full_config: Any, frames: int, cabin_seconds: float,
                     workdir: Path) -> dict[str, dict[str, float]]:
    """Headline metrics of each network on the first ``frames`` validation frames."""
    from perception.inference.pipeline import EvalOptions, evaluate_model
    from perception.inference.sources import open_eval_source

    out: dict[str, dict[str, float]] = {}
    for name, network in networks.items():
        source = open_eval_source("sim", "val", full_config, frames)
        options = EvalOptions(workdir / name, samples_to_draw=0, cabin_seconds=cabin_seconds)
        m = evaluate_model(network, full_config, source, options).metrics  # type: ignore[union-attr]
        out[name] = {
            "NDS": m["nuscenes_detection"]["nd_score"], "mAP": m["nuscenes_detection"]["mean_ap"],
            "mIoU": m["bev_segmentation"]["miou"], "AbsRel": m["depth"]["per_image"]["abs_rel"],
            "gaze": m["driver"]["frames"]["gaze"]["accuracy"],
        }
    return out


def format_section(speed: dict[str, dict[str, Any]], accuracy: dict[str, dict[str, float]],
                   meta: dict[str, Any]) -> str:
    """The markdown section of the results."""
    lines = [SECTION, ""]
    lines.append(
        f"Command: `{meta['command']}`; {meta['machine']}; torch {meta['torch']}, onnxruntime {meta['ort']}; "
        f"{meta['date']}. Load average (1, 5, 15 min) before / after the run: {meta['load_before']} / "
        f"{meta['load_after']}; niceness {meta['niceness']}. The machine is shared by several jobs, so wall "
        "times are noisy; the rows of one thread count ran interleaved frame by frame, so their ratios are "
        "fairer than the absolute numbers, and the process CPU time column is steadier than the wall time."
    )
    lines.append(
        f"Model: {meta['weights']} (`tiny`), batch of 1 frame (six cameras, LiDAR, cabin image); "
        f"ONNX files: {meta['fp32_mib']:.1f} MiB fp32, {meta['int8_mib']:.1f} MiB int8; "
        f"{meta['count']} timed frames per row ({meta['frames']} validation frames x {meta['rounds']} rounds) "
        "after one warm-up frame. **Network**: the forward pass on a preprocessed batch (voxelization and the "
        "BEV-pool ranks included for every runtime). **End to end**: frame -> preprocessing -> network -> "
        "decoding with rotated NMS. See the script's docstring."
    )
    lines += ["", ("| runtime | threads | network median (ms) | network p90 (ms) | end-to-end median (ms) | "
                   "end-to-end p90 (ms) | end-to-end CPU (ms) | samples/s | speed-up vs eager (end to end) |"),
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in speed.values():
        eager = speed[f"eager|{r['threads']}"]["e2e"]["median_ms"]
        lines.append(
            f"| {r['runtime']} | {r['threads']} | {r['network']['median_ms']:.0f} | {r['network']['p90_ms']:.0f} | "
            f"{r['e2e']['median_ms']:.0f} | {r['e2e']['p90_ms']:.0f} | {r['cpu_ms']:.0f} | "
            f"{r['samples_per_s']:.2f} | {eager / r['e2e']['median_ms']:.2f}x |"
        )
    lines += ["", (f"Accuracy on the first {meta['accuracy_frames']} frames of the simulated validation split "
                   f"(`evaluate --data sim --max-samples {meta['accuracy_frames']}`) and {meta['cabin_seconds']:g} s "
                   "of the simulated cabin stream (gaze); a subset this small gives noisy absolute numbers, the "
                   "point is the difference between runtimes on the same frames:"), "",
              "| runtime | NDS | mAP | mIoU | AbsRel | gaze accuracy |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, a in accuracy.items():
        lines.append(f"| {name} | {a['NDS']:.4f} | {a['mAP']:.4f} | {a['mIoU']:.4f} | {a['AbsRel']:.4f} | "
                     f"{a['gaze']:.3f} |")
    lines.append("")
    return "\n".join(lines)



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "perception" / "checkpoints" / "tiny.pt")
    parser.add_argument("--frames", type=int, default=4, help="validation frames timed per round (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the frames (default 3)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--accuracy-frames", type=int, default=8, help="validation frames scored (default 8)")
    parser.add_argument("--cabin-seconds", type=float, default=20.0, help="cabin stream scored (default 20 s)")
    parser.add_argument("--write-docs", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    from perception.export import OnnxRunner, export_onnx
    from perception.inference.sources import open_eval_source
    from perception.model import load_model

    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    model, config = load_model(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fp32 = export_onnx(model, config, work / "model.onnx")
        int8 = quantize(fp32, work / "model.int8.onnx")
        frames = [open_eval_source("sim", "val", config, args.frames).frames[i] for i in range(args.frames)]
        runtimes: dict[str, Callable[[int], Callable]] = {
            "eager": lambda t: model,
            "onnxruntime": lambda t: OnnxRunner(fp32, threads=t),
            "onnxruntime int8": lambda t: OnnxRunner(int8, threads=t),
        }
        speed = measure_speed(runtimes, frames, config.model, args.threads, args.rounds)
        set_threads(max(args.threads))
        accuracy = measure_accuracy(
            {"eager": model, "onnxruntime": OnnxRunner(fp32, threads=max(args.threads)),
             "onnxruntime int8": OnnxRunner(int8, threads=max(args.threads))},
            config, args.accuracy_frames, args.cabin_seconds, work / "eval")
        sizes = {"fp32_mib": fp32.stat().st_size / 2**20, "int8_mib": int8.stat().st_size / 2**20}
    meta = {
        "command": "python benchmarks/export.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs (shared)",
        "torch": torch.__version__, "ort": onnxruntime.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": load_before, "load_after": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
        "niceness": os.nice(0), "weights": args.checkpoint.name, "frames": args.frames, "rounds": args.rounds,
        "count": args.frames * args.rounds, "accuracy_frames": args.accuracy_frames,
        "cabin_seconds": args.cabin_seconds, **sizes,
    }
    section = format_section(speed, accuracy, meta)
    print(section)
    print(json.dumps({"speed": speed, "accuracy": accuracy, "meta": meta}, indent=1), file=sys.stderr)
    if args.write_docs:
        write_section(DOC, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
