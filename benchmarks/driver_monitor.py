"""Benchmark: driver monitoring (driver head + temporal monitor) over a long simulated cabin stream.

The stream is ``--seconds`` of cabin video at 10 Hz whose driver script has a scripted episode of
every event kind in turn (``sensors.sim.driver.SCRIPTED_EVENTS``), with ordinary episodes
between them. The checkpoint's driver head predicts every frame; the temporal monitor
(``perception/monitor``, Euro NCAP thresholds) runs over the predicted and over the true per-frame
labels, and the events are compared per kind (``evaluation.driver.event_metrics``): recall,
precision, false alerts per hour, start delay (predicted event start minus true start), and the
warning delay: when the monitor fired on the prediction minus when it fired on the truth, for the
true events whose kind fired on the prediction while they lasted. Also the time it took: render,
model, monitor and scoring (process CPU seconds and wall seconds).

    .venv/bin/python benchmarks/driver_monitor.py --seconds 1800 --write-docs
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.doc_sections import write_section
from evaluation.driver import EVENT_KINDS, DriverTimeline

DOCS = REPO / "docs" / "monitor.md"
SECTION = "## Evaluated on long simulated streams"
#: The rule of each event kind with the monitor's default thresholds (docs/monitor.md).
RULES = {"long_distraction": ">= 3 s continuously off road", "short_distraction": ">= 10 s off road within 30 s",
         "microsleep": "eyes closed 1-3 s", "sleep": "eyes closed >= 3 s",
         "unresponsive": ">= 6 s off road or eyes closed"}


def warning_delays(timeline: DriverTimeline) -> dict[str, list[float]]:
    """Kind -> for each true event of that kind with a true warning: the first predicted warning of
    its kind between the true warning and the event's end, minus the true warning (seconds)."""
    out: dict[str, list[float]] = {kind: [] for kind in EVENT_KINDS}
    for event in timeline.events["true"]:
        fired = [t for t, kind in timeline.warnings["true"] if kind == event.kind and event.start_s <= t <= event.end_s]
        if not fired:
            continue
        predicted = [t for t, kind in timeline.warnings["predicted"]
                     if kind == event.kind and event.start_s <= t <= event.end_s]
        if predicted:
            out[event.kind].append(min(predicted) - fired[0])
    return out


def table(events: dict, delays: dict[str, list[float]], hours: float) -> str:
    """The markdown table of the per-kind results."""
    def fmt(value: float, digits: int = 2) -> str:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"

    lines = ["| event | rule (default) | true events | alerts | recall | precision | false alerts / h | "
             "start delay (s) | warning delay, median (s) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in (*EVENT_KINDS, "all"):
        m = events[kind]
        d = delays.get(kind) if kind != "all" else [x for v in delays.values() for x in v]
        lines.append(f"| {kind} | {RULES.get(kind, '')} | {m['target']} | {m['predicted']} | {fmt(m['recall'])} | "
                     f"{fmt(m['precision'])} | {fmt(m['false_alerts_per_hour'], 1)} | {fmt(m['mean_delay_s'])} | "
                     f"{fmt(float(np.median(d)) if d else float('nan'))} |")
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800.0, help="length of the cabin stream (default 1800)")
    parser.add_argument("--fps", type=float, default=10.0, help="cabin frame rate (default 10)")
    parser.add_argument("--seed", type=int, default=100, help="driver script seed (default 100)")
    parser.add_argument("--checkpoint", type=Path, default=REPO / "perception" / "checkpoints" / "tiny.pt")
    parser.add_argument("--batch", type=int, default=64, help="cabin images per forward pass (default 64)")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of docs/monitor.md")
    args = parser.parse_args()

    import torch
    from tqdm import tqdm

    from perception.inference.driver_events import driver_timeline, score_driver
    from perception.inference.predict import predict_cabin
    from perception.inference.records import DriverObservation
    from perception.inference.sources import CabinStream
    from perception.model import load_model
    from sensors.sim import SimConfig

    wall0 = time.perf_counter()
    model, config = load_model(args.checkpoint)
    stream = CabinStream(args.seed, args.seconds, args.fps, SimConfig(**config.data.sim).cabin_size, scripted=True)
    render_cpu = model_cpu = 0.0
    observations: list[DriverObservation] = []
    for start in tqdm(range(0, len(stream), args.batch), desc="cabin stream", unit="batch", file=sys.stderr):
        t = time.process_time()
        items = [stream[i] for i in range(start, min(start + args.batch, len(stream)))]
        render_cpu += time.process_time() - t
        t = time.process_time()
        predictions = predict_cabin(model, [c for c, _ in items], torch.device("cpu"))
        model_cpu += time.process_time() - t
        observations += [DriverObservation("scripted", c.timestamp * 1e-6, float(p.eye_closed), np.asarray(p.gaze),
                                           np.asarray(p.head_pose, np.float64), float(p.phone), labels)
                         for (c, labels), p in zip(items, predictions)]
    t = time.process_time()
    scores = score_driver(observations)
    timeline = driver_timeline(observations)
    delays = warning_delays(timeline)
    monitor_cpu = time.process_time() - t
    wall = time.perf_counter() - wall0
    frames = scores["frames"]
    minutes = args.seconds / 60
    text = "\n".join([
        SECTION, "",
        f"`benchmarks/driver_monitor.py --seconds {args.seconds:g}`: {minutes:.0f} minutes of simulated cabin video at "
        f"{args.fps:g} Hz ({len(stream)} frames, driver script seed {args.seed}) with a scripted episode of every "
        "event kind in turn and ordinary (attentive, distracted, drowsy) episodes between them, run through the "
        "shipped checkpoint's driver head; the monitor runs with its default thresholds on the prediction and on the "
        "truth. "
        "An alert is true when it overlaps a true event of its kind. Start delay: predicted event start minus true "
        "start (the monitor dates an event back to the start of the episode). Warning delay: when the monitor fired "
        "on the prediction minus when it fired on the truth, over the true events it fired for while they lasted.",
        "",
        table(scores["events"], delays, args.seconds / 3600),
        "",
        f"Per frame: eyes-closed F1 {frames['eye_closed']['f1']:.3f}, phone F1 {frames['phone']['f1']:.3f}, gaze-zone "
        f"accuracy {frames['gaze']['accuracy']:.3f}.",
        "",
        f"Time on {platform.processor() or platform.machine()} (process CPU s, one thread per process): render "
        f"{render_cpu:.0f}, driver head {model_cpu:.0f}, monitor and scoring {monitor_cpu:.1f}; {wall:.0f} s wall "
        "on a shared machine.",
    ])
    print(text)
    if args.write_docs:
        write_section(DOCS, text)


if __name__ == "__main__":
    main()
