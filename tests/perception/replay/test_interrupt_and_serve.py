"""Ctrl-C during a replay leaves a finished results.mcap of the frames done; --serve streams the
channels over the Foxglove WebSocket protocol (a client on 127.0.0.1 checks what arrives)."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import struct
import threading

import pytest
import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader

from perception.replay.foxglove_sink import TOPICS, foxglove_outputs
from perception.replay.runner import replay
from sensors.frame import BevGrid


def test_sigint_finishes_the_mcap_with_the_frames_done(sim_frames, tiny_model, tmp_path):
    model, config = tiny_model
    path = tmp_path / "results.mcap"

    def frames():
        for k, frame in enumerate(sim_frames):
            if k == 1:  # Ctrl-C while frame 1 is read: frame 1 is finished, then the replay stops
                os.kill(os.getpid(), signal.SIGINT)
            yield frame

    before = signal.getsignal(signal.SIGINT)
    with foxglove_outputs(path, config.model.heads.segmentation.grid) as publisher:
        stats = replay(frames(), model, [publisher], torch.device("cpu"), progress=False)
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    assert stats.interrupted and stats.frames == 2
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()  # the summary section exists: the file was finished
        counts = {summary.channels[i].topic: n for i, n in summary.statistics.channel_message_counts.items()}
        assert counts[TOPICS["points"]] == 2 and counts[TOPICS["boxes"]] == 2
        assert sum(1 for _ in reader.iter_messages()) == summary.statistics.message_count
    assert [p.name for p in tmp_path.iterdir()] == ["results.mcap"]  # no temporary file left


def test_an_exception_leaves_no_file(sim_frames, tiny_model, tmp_path):
    model, config = tiny_model

    def frames():
        yield sim_frames[0]
        raise RuntimeError("reader crashed")

    with pytest.raises(RuntimeError), \
            foxglove_outputs(tmp_path / "results.mcap", config.model.heads.segmentation.grid) as pub:
        replay(frames(), model, [pub], torch.device("cpu"), progress=False)
    assert list(tmp_path.iterdir()) == []


SUBPROTOCOLS = ["foxglove.websocket.v1", "foxglove.sdk.v1"]


async def _client(port: int, wanted: set[str], timeout_s: float, subscribed: threading.Event | None = None,
                  complete: threading.Event | None = None) -> dict[str, list[bytes]]:
    """Connect to the server, subscribe to every channel as it is advertised (setting ``subscribed``
    once the ``wanted`` topics are), and collect the payloads of ``wanted`` topics until each has one
    (or ``timeout_s`` passes), then set ``complete``."""
    import websockets

    channels: dict[int, dict] = {}
    received: dict[str, list[bytes]] = {}
    # The SDK's server (foxglove-sdk 0.30) answers the protocol's current name, foxglove.sdk.v1, the
    # successor of foxglove.websocket.v1 with the same messages; a client offers both.
    async with websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=SUBPROTOCOLS, proxy=None) as ws:
        assert ws.subprotocol in SUBPROTOCOLS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not wanted <= received.keys() and loop.time() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - loop.time()))
            except asyncio.TimeoutError:
                break
            if isinstance(raw, str):
                msg = json.loads(raw)
                if msg["op"] == "advertise":
                    subs = []
                    for ch in msg["channels"]:
                        channels[ch["id"]] = ch
                        subs.append({"id": ch["id"], "channelId": ch["id"]})  # subscription id = channel id
                    await ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))
                    if subscribed is not None and wanted <= {c["topic"] for c in channels.values()}:
                        subscribed.set()
            elif raw[0] == 0x01:  # message data: opcode, subscription id, receive time, payload
                sub_id, _ = struct.unpack_from("<IQ", raw, 1)
                received.setdefault(channels[sub_id]["topic"], []).append(raw[13:])
                received.setdefault("_channels", []).append(json.dumps(channels[sub_id]).encode())
    if complete is not None:
        complete.set()
    return received


def test_serve_streams_the_channels(sim_frames, tiny_model):
    model, config = tiny_model
    wanted = {TOPICS["points"], TOPICS["boxes"], TOPICS["image"].format(camera="CAM_FRONT")}
    with foxglove_outputs(None, config.model.heads.segmentation.grid,
                          serve=("127.0.0.1", 0)) as publisher:
        port = publisher.server.port
        assert port > 0
        result: dict = {}
        subscribed, complete = threading.Event(), threading.Event()
        client = threading.Thread(
            target=lambda: result.update(asyncio.run(_client(port, wanted, 90.0, subscribed, complete))))
        client.start()

        def source():
            # A channel is created (and advertised) when its first message is logged: the first frame
            # opens them, the next ones go out once the client has sent its subscription, however
            # late it connects. The protocol does not acknowledge a subscription, so the server may
            # still be registering it when the next frames are logged: the frames repeat (a bounded
            # number of rounds) until the client has a message of every wanted topic.
            yield sim_frames[0]
            assert subscribed.wait(timeout=60), "the client did not subscribe within 60 s"
            for _ in range(10):
                for frame in sim_frames[1:]:
                    if complete.is_set():
                        return
                    yield frame

        worker = threading.Thread(target=lambda: replay(source(), model, [publisher], torch.device("cpu"),
                                                        progress=False))
        worker.start()
        client.join(timeout=120)
        worker.join(timeout=120)
    assert not client.is_alive() and not worker.is_alive()
    assert wanted <= result.keys()
    channel = next(json.loads(c) for c in result["_channels"] if json.loads(c)["topic"] == TOPICS["boxes"])
    assert channel["encoding"] == "protobuf" and channel["schemaName"] == "foxglove.SceneUpdate"
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"])).file:
        pool.Add(file)
    update = message_factory.GetMessageClass(pool.FindMessageTypeByName("foxglove.SceneUpdate")).FromString(
        result[TOPICS["boxes"]][0])
    assert len(update.entities) > 0 and update.entities[0].frame_id == "base_link"


def test_serve_on_a_port_in_use_is_one_line_exit_2(sim_bag, tmp_path, capsys):
    from replay_setup import TINY

    from perception.cli import main

    with foxglove_outputs(None, BevGrid(), serve=("127.0.0.1", 0)) as publisher:
        port = publisher.server.port
        status = main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--out", str(tmp_path / "out"), "--serve",
                       "--port", str(port), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and f"127.0.0.1:{port}" in err[0] and "in use" in err[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
