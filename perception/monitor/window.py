"""Time-weighted sums over a sliding time window of disjoint, time-ordered intervals."""
from __future__ import annotations

from collections import deque


class SlidingIntervalSum:
    """Total length (s) of intervals that lie inside the window ``[t - length_s, t]``.

    Intervals are appended in time order and must not overlap; each carries a weight (e.g. 1 for
    "eyes closed", 0 for "open"), so that :meth:`weighted` gives the weighted length and
    :meth:`observed` the plain length.
    """

    def __init__(self, length_s: float) -> None:
        if not length_s > 0.0:
            raise ValueError(f"window length must be > 0 s, got {length_s}")
        self.length_s = length_s
        self._items: deque[tuple[float, float, float]] = deque()
        self._observed = 0.0
        self._weighted = 0.0

    def add(self, start_s: float, end_s: float, weight: float = 1.0) -> None:
        """Append the interval ``[start_s, end_s)`` (s) with ``weight``; empty intervals are ignored."""
        if end_s <= start_s:
            return
        if self._items and start_s < self._items[-1][1]:
            raise ValueError(
                f"interval [{start_s}, {end_s}) starts before the previous one ends ({self._items[-1][1]})"
            )
        self._items.append((start_s, end_s, weight))
        self._observed += end_s - start_s
        self._weighted += (end_s - start_s) * weight

    def clear(self) -> None:
        """Forget every interval."""
        self._items.clear()
        self._observed = 0.0
        self._weighted = 0.0

    def _advance(self, now_s: float) -> tuple[float, float]:
        """Drop intervals that ended before the window; return the out-of-window part of the first."""
        lower = now_s - self.length_s
        while self._items and self._items[0][1] <= lower:
            start, end, weight = self._items.popleft()
            self._observed -= end - start
            self._weighted -= (end - start) * weight
        if not self._items:
            self._observed = 0.0  # no float drift once empty
            self._weighted = 0.0
            return 0.0, 0.0
        start, _, weight = self._items[0]
        outside = max(0.0, lower - start)
        return outside, outside * weight

    def observed(self, now_s: float) -> float:
        """Length (s) of the intervals inside ``[now_s - length_s, now_s]``."""
        outside, _ = self._advance(now_s)
        return max(0.0, self._observed - outside)

    def weighted(self, now_s: float) -> float:
        """Weighted length (s) of the intervals inside ``[now_s - length_s, now_s]``."""
        _, outside_weighted = self._advance(now_s)
        return max(0.0, self._weighted - outside_weighted)

    def first_start(self, now_s: float) -> float | None:
        """Start (s) of the earliest interval inside the window, clipped to the window; None if empty."""
        self._advance(now_s)
        if not self._items:
            return None
        return max(self._items[0][0], now_s - self.length_s)
