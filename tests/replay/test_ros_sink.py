"""--ros-out's bag: replaces an earlier bag whole, never a folder of something else."""
from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from perception.model.prediction import Prediction
from perception.replay.ros_sink import ros_bag_output


def _depth_messages(bag) -> list[float]:
    with AnyReader([bag]) as reader:  # rosbags' reader, definitions from the bag
        return [float(np.frombuffer(reader.deserialize(raw, conn.msgtype).data.tobytes(), "<f4")[0])
                for conn, _, raw in reader.messages()]


def test_ros_out_replaces_an_earlier_bag_and_refuses_a_foreign_folder(sim_frames, tmp_path):
    frame = sim_frames[0]
    camera = next(iter(frame.cameras))
    bag = tmp_path / "predictions"
    for value in (1.0, 2.0):
        with ros_bag_output(bag) as sink:
            sink.write(frame, Prediction(depth={camera: np.full((2, 3), value, np.float32)}))
        assert _depth_messages(bag) == [value]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions"]  # no temporary folder left
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a rosbag2 folder"), ros_bag_output(notes):
        pass
    assert (notes / "todo.txt").read_text() == "mine"
