"""``perception evaluate``: score a model (``--checkpoint``) or a submission file (``--predictions``).

Examples::

    perception evaluate --config configs/tiny.yaml --checkpoint ckpt.pt --data sim --split val --out eval/
    perception evaluate --checkpoint ckpt.pt --data /data/nuscenes --split val --out eval/
    torchrun --nproc_per_node 4 -m perception.cli evaluate --checkpoint ckpt.pt --data /data/nuscenes ...
    perception evaluate --predictions results_nusc.json --data /data/nuscenes --split val --out eval/

Under ``torchrun`` each rank predicts every ``WORLD_SIZE``-th frame and rank 0 scores and writes.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from perception.cli_export import add_runtime_arguments, load_network


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "evaluate", help="run a model over a dataset and score every head, or score a submission file",
        description="Evaluate a checkpoint (every head it has) or a nuScenes submission JSON; writes metrics.json, "
                    "report.md, plots and sample pictures into --out.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="model checkpoint to evaluate")
    source.add_argument("--predictions", type=Path, help="nuScenes submission JSON to score (no model)")
    source.add_argument("--model", type=Path, help="ONNX file from 'perception export' (with --runtime onnxruntime)")
    parser.add_argument("--config", type=Path, help="YAML config (default: the one stored in the checkpoint)")
    parser.add_argument("--data", required=True,
                        help="nuScenes root, KITTI root, DMD root (driver head only), or 'sim' (simulated validation drives)")
    parser.add_argument("--split", default="val", help="split to evaluate (default: val)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--max-samples", type=int, help="evaluate only the first N frames (model evaluation)")
    parser.add_argument("--batch-size", type=int, default=1, help="frames per forward pass (default 1)")
    parser.add_argument("--samples", type=int, default=3, help="sample pictures to draw (default 3)")
    parser.add_argument("--cabin-seconds", type=float, default=60.0,
                        help="seconds of simulated cabin stream scored for driver events with --data sim (default 60)")
    parser.add_argument("--drop", choices=("camera", "lidar"),
                        help="switch a sensor off at inference (street cameras or LiDAR), as if it had failed")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    add_runtime_arguments(parser)
    return parser


def run_evaluate(args: argparse.Namespace) -> int:
    """Run the evaluation described by ``args``; print the headline metrics (rank 0). Returns 0.

    Raises:
        ValueError, sensors.errors.SensorDataError: bad input (one line, shown by ``perception.cli``).
    """
    from perception.inference.pipeline import EvalOptions
    from sensors.atomic import atomic_dir

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    # Every file goes into a temporary folder renamed to --out at the end (all ranks of a torchrun
    # job share it; rank 0 renames): an interrupted run leaves no metrics.json without its report.
    with atomic_dir(args.out, is_evaluation_output, what="evaluation folder",
                    tag=f"torchrun-{os.environ.get('MASTER_PORT', '0')}" if distributed else None,
                    commit=not distributed or int(os.environ.get("RANK", "0")) == 0) as staging:
        staging.mkdir(parents=True, exist_ok=True)
        outcome = _evaluate(args, EvalOptions(staging, batch_size=args.batch_size, samples_to_draw=args.samples,
                                              cabin_seconds=args.cabin_seconds), distributed)
    if outcome is None:
        return 0
    print(headline(outcome.metrics))
    for line in notes(outcome.metrics):
        print(line)
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def is_evaluation_output(path: Path) -> bool:
    """Whether the folder ``path`` is a previous output of ``perception evaluate`` (it is replaced)."""
    return (path / "metrics.json").is_file() and (path / "report.md").is_file()


def _evaluate(args: argparse.Namespace, options: Any, distributed: bool) -> Any:
    """The evaluation of ``args`` written into ``options.out_dir``; its outcome (None off rank 0)."""
    from perception.distributed import (
        DistContext,
        init_distributed,
        resolve_device,
        shutdown_distributed,
    )
    from perception.inference.modality import drop_sensor
    from perception.inference.pipeline import evaluate_model, evaluate_predictions
    from perception.inference.sources import open_eval_source

    if args.predictions is not None:
        if args.max_samples is not None or args.config is not None or args.drop is not None or args.runtime != "torch":
            raise ValueError("--max-samples, --config, --drop and --runtime apply to model evaluation only")
        from perception.config import Config

        source = open_eval_source(args.data, args.split, Config())
        return evaluate_predictions(args.predictions, source, options)
    ctx = init_distributed(args.device) if distributed else None
    device = ctx.device if ctx else resolve_device(args.device)
    try:
        model, config = load_network(args, device)
        if args.drop is not None:
            drop_sensor(model, args.drop)
        source = open_eval_source(args.data, args.split, config, args.max_samples)
        status = evaluate_model(model, config, source, options, device, ctx or DistContext(device=device))
        if distributed:
            shutdown_distributed(barrier=True)
        return status
    finally:
        if distributed:
            shutdown_distributed()


def notes(metrics: dict) -> list[str]:
    """One line per head that was not scored (e.g. an unlabelled split whose predictions were exported)
    and for frames that had no BEV input."""
    lines = [f"{head}: {reason}" for head, reason in metrics.get("skipped", {}).items()]
    missing = metrics.get("meta", {}).get("frames_without_bev_input", 0)
    if missing:
        lines.append(f"{missing} frame(s) had neither street cameras nor LiDAR: no detections and no map for them")
    return lines


def headline(metrics: dict) -> str:
    """One line with the main number of every scored head."""
    parts = []
    det = metrics.get("nuscenes_detection")
    if det:
        parts.append(f"NDS {det['nd_score']:.4f} mAP {det['mean_ap']:.4f}")
    kitti = metrics.get("kitti")
    if kitti and "3d" in kitti["ap"]:
        parts.append("KITTI 3D AP(mod, R40) " + " ".join(f"{c} {v['moderate']['R40']:.2f}" for c, v in kitti["ap"]["3d"].items()))
    seg = metrics.get("bev_segmentation")
    if seg and seg.get("miou") is not None:
        parts.append(f"BEV mIoU {seg['miou']:.4f}")
    depth = metrics.get("depth")
    if depth:
        parts.append(f"depth AbsRel {depth['per_image']['abs_rel']:.4f}")
    frames = metrics.get("driver", {}).get("frames", {})
    for key, name in (("gaze", "gaze acc"), ("off_road", "off-road acc"), ("eye_closed", "eyes-closed acc")):
        if key in frames:
            parts.append(f"{name} {frames[key]['accuracy']:.3f}")
            break
    latency = metrics.get("latency", {}).get("total")
    if latency:
        parts.append(f"latency {latency['median_ms']:.1f} ms (p99 {latency['p99_ms']:.1f})")
    return " | ".join(parts) if parts else "no metric could be computed"
