"""Real-time pacing of a replay: frames are released at their recorded times, and a frame that a
newer one has overtaken while the model was busy is dropped, as on the car."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def paced(items: Iterable[T], timestamp_us: Callable[[T], int], clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[tuple[T, int]]:
    """Yield ``(item, dropped)`` at the wall-clock time each item was recorded, relative to the first.

    The first item is released at once and sets the origin: item ``k`` is *due* at
    ``origin + (timestamp_us(k) - timestamp_us(first)) * 1e-6`` seconds of ``clock``. When the
    consumer asks for the next item, every item that is no longer the newest due one (the item
    after it is also due) is dropped; the newest due item, or the next one to fall due (after a
    ``sleep``), is yielded with the number dropped just before it. The last item is never dropped.
    Items are read one ahead of the one yielded. Timestamps out of order are allowed (an item
    recorded earlier than its predecessor is due at once).

    Args:
        items: the recording, in recorded order.
        timestamp_us: the recorded time of an item, in microseconds.
        clock, sleep: seconds (monotonic) and a sleep of seconds; injectable for tests.
    """
    it = iter(items)
    current = next(it, _END)
    if current is _END:
        return
    t0, origin = timestamp_us(current), clock()  # type: ignore[arg-type]

    def due(item: T) -> float:
        return origin + (timestamp_us(item) - t0) * 1e-6

    upcoming = next(it, _END)
    while current is not _END:
        dropped = 0
        while upcoming is not _END and due(upcoming) <= clock():  # type: ignore[arg-type]
            current, upcoming, dropped = upcoming, next(it, _END), dropped + 1
        wait = due(current) - clock()  # type: ignore[arg-type]
        if wait > 0:
            sleep(wait)
        yield current, dropped  # type: ignore[misc]
        current, upcoming = upcoming, next(it, _END) if upcoming is not _END else _END
