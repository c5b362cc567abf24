"""Report figures (matplotlib, Agg canvas, no global pyplot state), written atomically as PNG."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation.driver import EVENT_KINDS, DriverTimeline
from evaluation.nuscenes_det.config import TP_METRIC_SHORT, TP_METRICS
from evaluation.nuscenes_det.metrics import DetectionResult
from sensors.atomic import atomic_write
from sensors.classes import GAZE_ZONES


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110), "wb")


def plot_pr_curves(result: DetectionResult, path: Path) -> Path:
    """Precision-recall curves of every class, one line per matching distance threshold."""
    classes = result.config.class_names
    cols = 5
    rows = int(np.ceil(len(classes) / cols))
    fig = Figure(figsize=(3.2 * cols, 3.0 * rows))
    for k, name in enumerate(classes):
        ax = fig.add_subplot(rows, cols, k + 1)
        for th in result.config.dist_ths:
            curve = result.curves[(name, th)]
            ax.plot(curve.recall, curve.precision, label=f"{th:g} m (AP {result.label_aps[name][th]:.2f})")
        ax.axvline(result.config.min_recall, color="grey", lw=0.8, ls=":")
        ax.axhline(result.config.min_precision, color="grey", lw=0.8, ls=":")
        ax.set(title=name, xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        ax.legend(fontsize=6, loc="lower left")
    return _save(fig, path)


def plot_tp_errors(label_tp_errors: dict[str, dict[str, float | None]], path: Path) -> Path:
    """Grouped bars: per class, the five true-positive errors (undefined ones left out)."""
    classes = list(label_tp_errors)
    fig = Figure(figsize=(12, 4))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(TP_METRICS)
    x = np.arange(len(classes))
    for k, metric in enumerate(TP_METRICS):
        values = [label_tp_errors[c].get(metric) for c in classes]
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (k - 2) * width, heights, width, label=TP_METRIC_SHORT[metric])
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set(ylabel="error (m, 1-IoU, rad, m/s, 1-acc)", title="True-positive errors at 2 m")
    ax.legend(ncols=5, fontsize=8)
    return _save(fig, path)


def plot_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str], path: Path,
                   title: str = "Gaze zones") -> Path:
    """Row-normalised confusion matrix (rows: ground truth), cells annotated with counts."""
    counts = np.asarray(confusion, np.float64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(image, ax=ax, label="fraction of ground-truth row")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="ground truth", title=title)
    return _save(fig, path)


def plot_depth_vs_distance(bins: Sequence[dict], path: Path) -> Path:
    """AbsRel and RMSE per ground-truth distance bin."""
    centres = [0.5 * (b["range_m"][0] + b["range_m"][1]) for b in bins]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(centres, [np.nan if b["abs_rel"] is None else b["abs_rel"] for b in bins], "o-", label="AbsRel")
    ax.set(xlabel="ground-truth depth (m)", ylabel="AbsRel", title="Depth error against distance")
    ax2 = ax.twinx()
    ax2.plot(centres, [np.nan if b["rmse"] is None else b["rmse"] for b in bins], "s--", color="C1", label="RMSE")
    ax2.set_ylabel("RMSE (m)")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper left")
    return _save(fig, path)


def plot_driver_timeline(timeline: DriverTimeline, path: Path, closed_max_openness: float = 0.2) -> Path:
    """The driver over a cabin stream, predicted (orange) against the truth (black): eye openness
    with the P80 closed threshold, gaze zone, PERCLOS, phone use, and the monitor's events as
    bars (truth above, prediction below) with a marker where each warning fires."""
    t = timeline.times_s
    pred, true = {"color": "C1", "lw": 1.0, "label": "predicted"}, {"color": "black", "lw": 1.0, "label": "true"}
    fig = Figure(figsize=(12, 9.5))
    axes = fig.subplots(5, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3, 0.8, 0.6, 1.6]})
    ax = axes[0]
    ax.plot(t, timeline.openness["true"], **true)
    ax.plot(t, timeline.openness["predicted"], **pred)
    ax.axhline(closed_max_openness, color="grey", ls=":", lw=0.8)
    ax.set(ylabel="eye openness", ylim=(-0.05, 1.05))
    ax.legend(loc="lower left", fontsize=7, ncols=2)
    ax = axes[1]
    ax.step(t, timeline.gaze_zone["true"], where="post", **true)
    ax.plot(t, timeline.gaze_zone["predicted"], ".", color="C1", ms=2.5, label="predicted")
    ax.set_yticks(range(len(GAZE_ZONES)), GAZE_ZONES, fontsize=7)
    ax.set(ylabel="gaze zone", ylim=(-0.5, len(GAZE_ZONES) - 0.5))
    ax = axes[2]
    ax.plot(t, timeline.perclos["true"], **true)
    ax.plot(t, timeline.perclos["predicted"], **pred)
    ax.set(ylabel="PERCLOS", ylim=(0, max(0.05, 1.1 * float(np.max([timeline.perclos[k].max(initial=0) for k in timeline.perclos])))))
    ax = axes[3]
    ax.fill_between(t, 0, timeline.phone["true"], step="post", color="black", alpha=0.2, lw=0, label="true")
    ax.plot(t, timeline.phone["predicted"], **pred)
    ax.set(ylabel="phone", ylim=(-0.05, 1.05))
    ax = axes[4]
    rows = {kind: i for i, kind in enumerate(EVENT_KINDS)}
    for side, offset, color in (("true", 0.18, "black"), ("predicted", -0.18, "C1")):
        for event in timeline.events[side]:
            y = rows[event.kind] + offset
            ax.plot([event.start_s, event.end_s], [y, y], color=color, lw=5, solid_capstyle="butt")
        for time_s, kind in timeline.warnings[side]:
            ax.plot(time_s, rows[kind] + offset, marker="v", color="C3" if side == "predicted" else "grey", ms=6)
    ax.set_yticks(range(len(EVENT_KINDS)), EVENT_KINDS, fontsize=7)
    ax.set(ylabel="events", ylim=(-0.6, len(EVENT_KINDS) - 0.4), xlabel="time (s)")
    ax.text(0.995, 0.02, "bars: true (upper) / predicted (lower); triangles: warning fires", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, color="dimgrey")
    ax.set_xlim(float(t[0]), float(t[-1]) if len(t) > 1 else float(t[0]) + 1.0)
    axes[0].set_title("Driver monitoring over the cabin stream")
    return _save(fig, path)
