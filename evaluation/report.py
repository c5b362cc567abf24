"""Evaluation report: ``metrics.json``, a readable ``report.md`` with tables, and PNG plots.

``metrics`` sections (each optional) and what produces them:

- ``nuscenes_detection``: :meth:`evaluation.nuscenes_det.metrics.DetectionResult.to_dict`
- ``kitti``: :meth:`evaluation.kitti.evaluate.KittiResult.to_dict`
- ``bev_segmentation``: :meth:`evaluation.segmentation.SegmentationResult.to_dict`
- ``depth``: :meth:`evaluation.depth.DepthMetric.result`
- ``driver``: ``{"frames": evaluation.driver.frame_metrics(...), "events": evaluation.driver.event_metrics(...)}``
- ``latency``: :func:`evaluation.latency.summarize_latency`
- ``warmup``: ``{"first_frame_s": seconds, "note": text}``: the one-off cost of the first frame
  (kernel compilation or cache load), kept out of ``latency``
- ``skipped``: head -> why it was not scored (e.g. an unlabelled split whose predictions were exported)

Other keys are kept in ``metrics.json`` and listed as JSON in the report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evaluation.files import json_safe, write_json
from evaluation.nuscenes_det.config import TP_METRIC_SHORT, TP_METRICS
from evaluation.nuscenes_det.metrics import DetectionResult
from evaluation.plots import (
    plot_confusion,
    plot_depth_vs_distance,
    plot_pr_curves,
    plot_tp_errors,
)
from sensors.atomic import atomic_write

_KNOWN = ("nuscenes_detection", "kitti", "bev_segmentation", "depth", "driver", "latency", "warmup", "skipped")


@dataclass
class PlotInputs:
    """Data for plots that ``metrics`` alone does not hold (``detection``: the PR curves)."""

    detection: DetectionResult | None = None


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in row) + " |" for row in rows]
    return lines + [""]


def _detection_section(m: dict) -> list[str]:
    tp = m["tp_errors"]
    lines = ["## nuScenes detection", "",
             f"**NDS {_fmt(m['nd_score'], 4)}**, mAP {_fmt(m['mean_ap'], 4)}, "
             + ", ".join(f"m{TP_METRIC_SHORT[k]} {_fmt(tp[k])}" for k in TP_METRICS), ""]
    ths = list(next(iter(m["label_aps"].values())).keys())
    header = ["class", *[f"AP@{float(t):g}m" for t in ths], "AP", *[TP_METRIC_SHORT[k] for k in TP_METRICS]]
    rows = []
    for name, aps in m["label_aps"].items():
        errors = m["label_tp_errors"][name]
        rows.append([name, *[aps[t] for t in ths], m["mean_dist_aps"][name], *[errors[k] for k in TP_METRICS]])
    return lines + _table(header, rows)


def _kitti_section(m: dict) -> list[str]:
    lines = ["## KITTI detection (AP in %, R40 with R11 in brackets)", ""]
    for metric, per_class in m["ap"].items():
        lines.append(f"**{metric.upper()}**")
        lines.append("")
        rows = [[name, *[f"{d['R40']:.2f} ({d['R11']:.2f})" for d in diffs.values()]] for name, diffs in per_class.items()]
        lines += _table(["class", "easy", "moderate", "hard"], rows)
    if m.get("aos"):
        lines += ["**AOS** (2D boxes: average orientation similarity)", ""]
        rows = [[name, *[f"{d['R40']:.2f} ({d['R11']:.2f})" for d in diffs.values()]] for name, diffs in m["aos"].items()]
        lines += _table(["class", "easy", "moderate", "hard"], rows)
    return lines


def _segmentation_section(m: dict) -> list[str]:
    rows = [[name, iou, m["threshold"][name]] for name, iou in m["iou"].items()]
    return ["## BEV segmentation", "", f"**mIoU {_fmt(m['miou'], 4)}** (best threshold per class)", ""] + \
        _table(["class", "IoU", "threshold"], rows)


def _depth_section(m: dict) -> list[str]:
    names = ["abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3"]
    lines = ["## Depth", "", f"{m['images']} images; metrics per image then averaged, and over all pixels.", ""]
    lines += _table(["average", *names], [[k, *[m[k][n] for n in names]] for k in ("per_image", "pixels")])
    rows = [[f"{b['range_m'][0]:g}-{b['range_m'][1]:g} m", b["pixels"], *[b[n] for n in names]] for b in m["bins"]]
    return lines + _table(["distance", "pixels", *names], rows)


def _driver_section(m: dict) -> list[str]:
    lines = ["## Driver monitoring", ""]
    frames = m.get("frames")
    if frames:
        rows = [[k, frames[k]["accuracy"], frames[k]["precision"], frames[k]["recall"], frames[k]["f1"]]
                for k in ("eye_closed", "phone", "off_road") if k in frames]
        if rows:
            lines += _table(["per frame", "accuracy", "precision", "recall", "F1"], rows)
        parts = []
        if "gaze" in frames:
            parts.append(f"Gaze-zone accuracy {_fmt(frames['gaze']['accuracy'])}")
        if "head_pose_mae_deg" in frames:
            pose = frames["head_pose_mae_deg"]
            parts.append(f"head-pose MAE (deg) yaw {_fmt(pose['yaw'], 2)}, pitch {_fmt(pose['pitch'], 2)}, "
                         f"roll {_fmt(pose['roll'], 2)}")
        if parts:
            lines += ["; ".join(parts) + ".", ""]
    events = m.get("events")
    if events:
        rows = [[k, v["target"], v["predicted"], v["precision"], v["recall"], v["mean_delay_s"],
                 v["false_alerts_per_hour"]] for k, v in events.items()]
        lines += _table(["event", "true", "alerts", "precision", "recall", "delay (s)", "false alerts/h"], rows)
    return lines


def _latency_section(m: dict, warmup: dict | None = None) -> list[str]:
    rows = [[stage, v["count"], v["median_ms"], v["p99_ms"]] for stage, v in m.items()]
    lines = ["## Latency", ""] + _table(["stage", "runs", "median (ms)", "p99 (ms)"], rows)
    if warmup and warmup.get("first_frame_s") is not None:
        lines += [f"Warm-up, not included above: {warmup['first_frame_s']:.2f} s for the first frame"
                  + (f" ({warmup['note']})" if warmup.get("note") else "") + ".", ""]
    return lines


def write_report(metrics: dict, out_dir: str | Path, plots: PlotInputs | None = None) -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md`` and the plots the metrics allow into ``out_dir``.

    Plots: ``tp_errors.png`` (nuScenes TP errors), ``pr_curves.png`` (needs ``plots.detection``),
    ``gaze_confusion.png`` and ``depth_vs_distance.png``. Every file is written atomically.

    Returns:
        name -> path of every file written.
    """
    out_dir = Path(out_dir)
    metrics = json_safe(metrics)
    written = {"metrics.json": write_json(out_dir / "metrics.json", metrics)}
    figures: list[tuple[str, str]] = []
    lines = ["# Evaluation report", ""]
    if "nuscenes_detection" in metrics:
        lines += _detection_section(metrics["nuscenes_detection"])
        written["tp_errors.png"] = plot_tp_errors(metrics["nuscenes_detection"]["label_tp_errors"],
                                                  out_dir / "tp_errors.png")
        figures.append(("True-positive errors", "tp_errors.png"))
        if plots is not None and plots.detection is not None:
            written["pr_curves.png"] = plot_pr_curves(plots.detection, out_dir / "pr_curves.png")
            figures.append(("Precision-recall curves", "pr_curves.png"))
    if "kitti" in metrics:
        lines += _kitti_section(metrics["kitti"])
    if "bev_segmentation" in metrics:
        lines += _segmentation_section(metrics["bev_segmentation"])
    if "depth" in metrics:
        lines += _depth_section(metrics["depth"])
        written["depth_vs_distance.png"] = plot_depth_vs_distance(metrics["depth"]["bins"],
                                                                  out_dir / "depth_vs_distance.png")
        figures.append(("Depth error against distance", "depth_vs_distance.png"))
    if "driver" in metrics:
        lines += _driver_section(metrics["driver"])
        gaze = metrics["driver"].get("frames", {}).get("gaze")
        if gaze:
            written["gaze_confusion.png"] = plot_confusion(gaze["confusion"], gaze["zones"],
                                                           out_dir / "gaze_confusion.png")
            figures.append(("Gaze-zone confusion", "gaze_confusion.png"))
    if "latency" in metrics:
        lines += _latency_section(metrics["latency"], metrics.get("warmup"))
    if metrics.get("skipped"):
        lines += ["## Not scored", ""] + [f"- **{head}**: {reason}" for head, reason in metrics["skipped"].items()] + [""]
    for key in metrics:
        if key not in _KNOWN:
            lines += [f"## {key}", "", "```json", json.dumps(metrics[key], indent=2), "```", ""]
    if figures:
        lines += ["## Plots", ""] + [f"![{title}]({name})" for title, name in figures] + [""]
    text = "\n".join(lines)
    written["report.md"] = atomic_write(out_dir / "report.md", lambda f: f.write(text))
    return written
