"""Counters of what a replay read, built and could not use (:class:`ReplaySummary`)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ReplaySummary:
    """What happened while turning messages into frames.

    Attributes:
        frames: frames built (one per usable LiDAR message).
        messages: topic -> messages received.
        missing: sensor (``lidar``, a camera name, ``cabin``, ``ego_pose``) -> frames built without it.
        unusable: reason -> messages (or topics, for whole-topic reasons) that could not be used.
        examples: reason -> the first detailed line of that reason (topic, time, cause).
        notes: recording-level events, one line each (a truncated file, a sensor that stopped).
    """

    frames: int = 0
    messages: Counter = field(default_factory=Counter)
    missing: Counter = field(default_factory=Counter)
    unusable: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count_unusable(self, reason: str, detail: str, count: int = 1) -> None:
        """Count ``count`` messages unusable for ``reason``; keep the first ``detail`` line."""
        self.unusable[reason] += count
        self.examples.setdefault(reason, detail)

    def note(self, line: str) -> None:
        """Record a recording-level event (once)."""
        if line not in self.notes:
            self.notes.append(line)

    def as_dict(self) -> dict:
        """Plain JSON-ready dictionary."""
        return {"frames": self.frames, "messages": dict(self.messages), "missing": dict(self.missing),
                "unusable": dict(self.unusable), "examples": dict(self.examples), "notes": list(self.notes)}

    def lines(self) -> list[str]:
        """Human-readable report, one fact per line."""
        out = [f"frames: {self.frames}"]
        out += [f"frames without {sensor}: {count}" for sensor, count in sorted(self.missing.items())]
        out += [f"unusable ({reason}): {count}  e.g. {self.examples.get(reason, '')}"
                for reason, count in sorted(self.unusable.items())]
        out += [f"note: {line}" for line in self.notes]
        return out
