"""Real-time pacing with a simulated clock: release times, and which frames are dropped."""
from __future__ import annotations

from perception.replay.pacing import paced


class FakeClock:
    """A clock that only moves when the consumer works (``spend``) or the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _run(timestamps_us, work_s):
    clock = FakeClock()
    out = []
    for item, dropped in paced(timestamps_us, lambda t: t, clock, clock.sleep):
        out.append((item, dropped, round(clock.now - 100.0, 9)))
        clock.now += work_s
    return out


def test_fast_consumer_gets_every_item_at_its_recorded_time():
    out = _run([0, 100_000, 200_000, 350_000], work_s=0.01)
    assert [(i, d) for i, d, _ in out] == [(0, 0), (100_000, 0), (200_000, 0), (350_000, 0)]
    assert [t for _, _, t in out] == [0.0, 0.1, 0.2, 0.35]  # released on the recorded schedule


def test_slow_consumer_drops_overtaken_items():
    # 10 Hz recording, 0.25 s of work per item: at t=0.25 items 0.1 and 0.2 are due -> 0.1 dropped,
    # 0.2 processed; at 0.5 items 0.3, 0.4, 0.5 are due -> 0.3, 0.4 dropped, 0.5 processed; ...
    stamps = [k * 100_000 for k in range(8)]
    out = _run(stamps, work_s=0.25)
    assert [(i, d) for i, d, _ in out] == [(0, 0), (200_000, 1), (500_000, 2), (700_000, 1)]
    assert sum(d for _, d, _ in out) + len(out) == len(stamps)


def test_last_item_is_never_dropped_and_out_of_order_is_due_at_once():
    out = _run([0, 300_000, 100_000], work_s=0.0)
    assert [(i, d) for i, d, _ in out] == [(0, 0), (300_000, 0), (100_000, 0)]
    assert _run([], work_s=0.0) == []


def test_realtime_replay_drops_what_the_model_cannot_keep_up_with(sim_frames, tiny_model):
    """Frames recorded 1 ms apart: while frame 0 is in the model, frames 1 and 2 fall due; frame 1
    is overtaken by frame 2 and dropped, frame 2 (the last) is run."""
    import dataclasses

    import torch

    from perception.replay.runner import replay

    model, _ = tiny_model
    t0 = sim_frames[0].timestamp
    frames = [dataclasses.replace(f, timestamp=t0 + 1000 * k) for k, f in enumerate(sim_frames)]
    seen = []

    class Sink:
        def write(self, frame, prediction):
            seen.append(frame.timestamp)

    stats = replay(frames, model, [Sink()], torch.device("cpu"), realtime=True, progress=False)
    assert (stats.frames, stats.dropped) == (2, 1)
    assert seen == [t0, t0 + 2000]
