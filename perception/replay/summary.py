"""The one-screen summary printed at the end of a replay."""
from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from perception.replay.runner import STAGES, ReplayStats
from sensors.ros.summary import ReplaySummary

#: Row labels of the latency table.
STAGE_LABELS: dict[str, str] = {"decode": "decode/sync", "preprocess": "preprocess", "model": "model",
                                "postprocess": "postprocess", "write": "write"}


def summary(stats: ReplayStats, recording: ReplaySummary, outputs: Mapping[str, str]) -> Group:
    """Counters (frames, dropped, missing sensors, unusable messages by reason with an example, the
    recording's notes), per-stage latency median and p99 (ms) and the outputs, as a rich renderable.

    Args:
        stats: the replay's statistics (missing sensors counted over the frames run).
        recording: the recording's counters after the replay (unusable messages, notes).
        outputs: what was written or served -> where.
    """
    unusable = recording.unusable
    counts = Table(title="replay", show_header=False, box=None, pad_edge=False)
    counts.add_column(style="bold")
    counts.add_column(justify="right")
    fps = stats.frames / stats.wall_s if stats.wall_s > 0 else 0.0
    counts.add_row("frames replayed", f"{stats.frames}" + (" (interrupted)" if stats.interrupted else ""))
    counts.add_row("frames dropped (real time)", str(stats.dropped))
    counts.add_row("frames with a missing sensor", str(stats.frames_missing_sensor))
    for sensor, n in sorted(stats.missing.items()):
        counts.add_row(f"  without {sensor}", str(n))
    counts.add_row("unusable messages", str(sum(unusable.values())))
    for reason, n in sorted(unusable.items(), key=lambda kv: (-kv[1], kv[0])):
        example = recording.examples.get(reason)
        counts.add_row(f"  {reason}" + (f" (e.g. {example})" if example else ""), str(n))
    counts.add_row("throughput", f"{fps:.2f} frames/s")
    latency = Table(title="latency per frame (ms)")
    latency.add_column("stage")
    latency.add_column("median", justify="right")
    latency.add_column("p99", justify="right")
    for stage, (median, p99) in ((s, v) for s in STAGES if (v := stats.latency_ms().get(s)) is not None):
        latency.add_row(STAGE_LABELS[stage], f"{median:.1f}", f"{p99:.1f}")
    files = Table(show_header=False, box=None, pad_edge=False)
    files.add_column(style="bold")
    files.add_column()
    for name, where in outputs.items():
        files.add_row(name, where)
    notes = [Text(f"note: {line}", style="yellow") for line in recording.notes]
    return Group(counts, *notes, latency, files)
