"""A camera slower than the LiDAR: its image joins several frames but is logged once."""
from __future__ import annotations

import dataclasses

import numpy as np
from mcap.reader import make_reader
from mcap_read import read_messages

from perception.model.prediction import Prediction
from perception.replay.foxglove_sink import TOPICS, foxglove_outputs
from sensors.classes import GAZE_ZONES
from sensors.frame import BevGrid


def test_an_image_in_two_frames_is_logged_once_with_each_frames_predictions(sim_frames, tmp_path):
    key = sim_frames[0]
    # a non-key sweep 50 ms later picks up the same images (as in a --sweeps 10 drive)
    sweep = dataclasses.replace(key, timestamp=key.timestamp + 50_000)
    depth = {name: np.full((4, 6), 7.0 + k, np.float32) for k, name in enumerate(key.cameras)}
    with foxglove_outputs(tmp_path / "results.mcap", BevGrid()) as publisher:
        publisher.write(key, Prediction(depth=depth))
        publisher.write(sweep, Prediction(depth={n: d + 1.0 for n, d in depth.items()}))
        driver = Prediction(eye_closed=0.1, gaze=np.full(len(GAZE_ZONES), 1.0 / len(GAZE_ZONES)),
                            head_pose=np.zeros(3), phone=0.0)
        publisher.write(sim_frames[1], driver)
    messages = read_messages(tmp_path / "results.mcap")
    for name, camera in key.cameras.items():
        later = sim_frames[1].cameras[name]
        for kind in ("image", "calibration"):
            topic = TOPICS[kind].format(camera=name)
            assert [t for t, _ in messages[topic]] == [camera.timestamp * 1000, later.timestamp * 1000], topic
        # the predictions of both frames, at the image's time
        depth_msgs = messages[TOPICS["depth"].format(camera=name)]
        assert [t for t, _ in depth_msgs] == [camera.timestamp * 1000] * 2
        assert [np.frombuffer(m.data, "<f4")[0] for _, m in depth_msgs] == [depth[name][0, 0], depth[name][0, 0] + 1]
    assert len(messages[TOPICS["points"]]) == 3
    assert len(messages[TOPICS["cabin"]]) == 2
    with open(tmp_path / "results.mcap", "rb") as f:
        summary = make_reader(f).get_summary()
    names = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
    assert names[TOPICS["driver_state"]] == "perception.DriverState"  # readable in Foxglove's topic list
