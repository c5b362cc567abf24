"""The DMD reader: end to end on the simulator's cabin stream written in the DMD layout, and on
annotation files built here field by field from the published OpenLABEL / VCD structure."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.dataset import detect_layout, open_dataset
from sensors.dmd.reader import DmdDataset
from sensors.dmd.writer import write_dmd
from sensors.errors import CorruptDataError, InvalidValueError, MissingDataError
from sensors.sim import simulate_cabin_sequence

FPS = 10.0
#: Our zone -> the zone read back through DMD's regions (None: DMD has no such region).
EXPECTED_ZONE = {"road": "road", "left_mirror": "left_mirror", "right_mirror": "right_mirror",
                 "rear_mirror": "rear_mirror", "instrument_cluster": "instrument_cluster",
                 "infotainment": "infotainment", "lap_or_phone": None, "eyes_closed": "eyes_closed"}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    stream = list(simulate_cabin_sequence(seed=6, duration_s=30.0, fps=FPS, size=(120, 160)))
    root = tmp_path_factory.mktemp("dmd")
    write_dmd(stream, root, "gS_1_s1_sim", fps=FPS)
    return stream, root


def test_simulated_stream_round_trip(simulated) -> None:
    stream, root = simulated
    assert detect_layout(root) == "dmd"
    frames = open_dataset(root, split="all")
    assert len(frames) == len(stream)
    zones = set()
    for k, ((camera, truth), frame) in enumerate(zip(stream, frames)):
        read = frame.annotations.driver
        assert frame.scene == "gS_1_s1_sim" and frame.cabin is not None
        assert frame.timestamp == round(k * 1e6 / FPS)
        assert read.eye_state == truth.eye_state
        assert read.eye_openness == (0.0 if EYE_STATES[truth.eye_state] == "closed" else 1.0)
        expected = EXPECTED_ZONE[GAZE_ZONES[truth.gaze_zone]]
        assert read.gaze_zone == (None if expected is None else GAZE_ZONES.index(expected))
        assert read.looking_at_road is (False if expected is None else None)
        assert read.phone == truth.phone and read.head_pose is None
        zones.add(GAZE_ZONES[truth.gaze_zone])
        if k % 50 == 0:  # lossy video: the image comes back close, not equal
            assert np.abs(frame.cabin.image.astype(int) - camera.image.astype(int)).mean() < 6.0
    assert {"road", "eyes_closed", "lap_or_phone"} <= zones and any(t.phone for _, t in stream)


# -- files built field by field from the published structure ---------------------------------------
def write_video(path: Path, count: int, fps: float = 30.0) -> None:
    """A face video whose frame k is uniformly grey at level 10 k (to check the decoding order)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for k in range(count):
        writer.write(np.full((48, 64, 3), 10 * k, np.uint8))
    writer.release()


def action(type_: str, *intervals: tuple[int, int]) -> dict:
    return {"name": type_, "type": type_, "frame_intervals": [{"frame_start": a, "frame_end": b} for a, b in intervals]}


def vcd_distraction(uri: str) -> dict:
    """A VCD 4 distraction annotation: the body camera started 3 frames before the face camera
    (annotation frame = mosaic frame; face frame = mosaic frame - 3)."""
    return {"vcd": {
        "name": "gA_1_s1_2019-03-08T09;31;15+01;00",
        "metadata": {"schema_version": "4.3.0", "streams": {
            "face_camera": {"description": "", "uri": uri, "type": "video",
                            "stream_properties": {"total_frames": 16, "sync": {"frame_shift": 0}}},
            "body_camera": {"description": "", "uri": "body.mp4", "type": "video",
                            "stream_properties": {"total_frames": 19, "sync": {"frame_shift": -3}}},
            "hands_camera": {"description": "", "uri": "hands.mp4", "type": "video",
                             "stream_properties": {"total_frames": 18, "sync": {"frame_shift": 1}}},
        }},
        "frame_intervals": [{"frame_start": 0, "frame_end": 20}],
        "actions": {
            "0": action("gaze_on_road/looking_road", (0, 9)),
            "1": action("gaze_on_road/not_looking_road", (10, 20)),
            "2": action("driver_actions/safe_drive", (0, 12)),
            "3": action("driver_actions/texting_right", (13, 20)),
            "4": action("hands_using_wheel/both", (0, 20)),
            "5": action("talking/talking", (4, 6)),
            "6": action("weather/sunny", (0, 20)),
        },
        "objects": {"0": {"name": "driver", "type": "driver"}},
    }}


def openlabel_gaze(uri: str) -> dict:
    """An OpenLABEL 1.0 gaze-and-drowsiness annotation with per-eye states."""
    return {"openlabel": {
        "metadata": {"schema_version": "1.0.0", "name": "gB_2_s6"},
        "streams": {"face_camera": {"uri": uri, "type": "camera", "stream_properties": {"sync": {"frame_shift": 0}}}},
        "frame_intervals": [{"frame_start": 0, "frame_end": 11}],
        "actions": {
            "0": action("gaze_zone/center_mirror", (0, 3)),
            "1": action("gaze_zone/left", (4, 7)),
            "2": action("gaze_zone/steering_wheel", (8, 11)),
            "3": action("eye_state_left/open", (0, 5)),
            "4": action("eye_state_left/close", (6, 11)),
            "5": action("eye_state_right/opening", (0, 5)),
            "6": action("eye_state_right/close", (6, 9)),
            "7": action("eye_state_right/undefined", (10, 11)),
        },
    }}


@pytest.fixture()
def hand_built(tmp_path: Path) -> Path:
    session = tmp_path / "dmd" / "gA" / "1" / "s1"
    session.mkdir(parents=True)
    write_video(session / "gA_1_s1_rgb_face.mp4", 16)
    (session / "gA_1_s1_rgb_ann_distraction.json").write_text(
        json.dumps(vcd_distraction("gA/1/s1/gA_1_s1_rgb_face.mp4")))
    gaze = tmp_path / "dmd" / "gB" / "2" / "s6"
    gaze.mkdir(parents=True)
    write_video(gaze / "gB_2_s6_ir_face.mp4", 12)
    (gaze / "gB_2_s6_ir_ann_gaze.json").write_text(json.dumps(openlabel_gaze("elsewhere/gB_2_s6_ir_face.mp4")))
    return tmp_path / "dmd"


def test_hand_built_annotations(hand_built: Path, capsys: pytest.CaptureFixture) -> None:
    distraction = DmdDataset(hand_built, split="gA")
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "gA_1_s1_rgb_ann_distraction.json" in warning[0]
    assert "16..17" in warning[0] and "gA_1_s1_rgb_face.mp4" in warning[0]
    assert len(distraction) == 16  # face frames 0..15 (mosaic 3..18); 16, 17 are past the video
    road, unknown = GAZE_ZONES.index("road"), None
    for frame in distraction:
        k = int(frame.token.split("/")[-1])
        mosaic = k + 3
        labels = frame.annotations.driver
        assert frame.scene == "gA_1_s1_2019-03-08T09;31;15+01;00"
        assert abs(float(frame.cabin.image.mean()) - 10 * k) < 4.0  # frame k of the video
        assert frame.timestamp == round(k * 1e6 / 30.0)
        assert labels.gaze_zone == (road if mosaic <= 9 else unknown)
        assert labels.looking_at_road is (None if mosaic <= 9 else False)
        assert labels.phone is (mosaic >= 13)
        assert labels.eye_state is None and labels.eye_openness is None and labels.head_pose is None

    gaze = DmdDataset(hand_built, split="gB")  # the uri points elsewhere: the video beside the file is used
    labels = {int(f.token.split("/")[-1]): f.annotations.driver for f in gaze}
    assert sorted(labels) == list(range(12))
    open_, closed = EYE_STATES.index("open"), EYE_STATES.index("closed")
    assert labels[0].gaze_zone == GAZE_ZONES.index("rear_mirror") and labels[0].eye_openness == 0.75
    assert labels[4].gaze_zone is None and labels[4].eye_state == open_  # DMD's "left" window: no zone
    assert labels[6].eye_state == closed and labels[6].gaze_zone == GAZE_ZONES.index("eyes_closed")
    assert labels[10].eye_openness == 0.0 and labels[10].eye_state == closed  # one eye closed, the other undefined
    assert labels[8].gaze_zone == GAZE_ZONES.index("eyes_closed")
    assert len(DmdDataset(hand_built, split="all")) == 28 and len(DmdDataset(hand_built, stride=4)) == 4 + 3


def test_bad_input(hand_built: Path) -> None:
    annotation = hand_built / "gA" / "1" / "s1" / "gA_1_s1_rgb_ann_distraction.json"
    document = json.loads(annotation.read_text())
    document["vcd"]["actions"]["0"]["type"] = "gaze_on_road/looking_sky"
    annotation.write_text(json.dumps(document))
    with pytest.raises(InvalidValueError, match=r"gA_1_s1_rgb_ann_distraction.json: action 0: unknown label 'looking_sky'"):
        DmdDataset(hand_built, split="gA")
    document["vcd"]["actions"]["0"] = action("gaze_on_road/looking_road", (0, 12))
    annotation.write_text(json.dumps(document))
    with pytest.raises(InvalidValueError, match="level 'gaze_on_road' has two labels"):
        DmdDataset(hand_built, split="gA")
    document["vcd"]["actions"]["0"] = action("gaze_on_road/looking_road", (0, 10**12))  # refused before expanding
    annotation.write_text(json.dumps(document))
    with pytest.raises(InvalidValueError, match=r"action 0 \(gaze_on_road/looking_road\): frame interval "
                                                r"0..1000000000000 spans 1000000000001 frames, more than any recording"):
        DmdDataset(hand_built, split="gA")
    annotation.write_text("{broken")
    with pytest.raises(CorruptDataError, match="distraction.json: invalid JSON"):
        DmdDataset(hand_built, split="gA")
    annotation.write_text(json.dumps(vcd_distraction("gA/1/s1/gA_1_s1_rgb_face.mp4")))
    (annotation.parent / "gA_1_s1_rgb_face.mp4").unlink()
    with pytest.raises(MissingDataError, match="distraction.json: face video gA_1_s1_rgb_face.mp4 not found") as error:
        DmdDataset(hand_built, split="gA")
    assert str(error.value).count("gA_1_s1_rgb_face.mp4") == 2  # the file, then the one place looked (the uri is beside)
    (annotation.parent / "gA_1_s1_rgb_face.mp4").write_bytes(b"not a video")
    with pytest.raises(CorruptDataError, match="does not open as a video"):
        DmdDataset(hand_built, split="gA")
    with pytest.raises(MissingDataError, match="DMD has no official splits"):
        DmdDataset(hand_built, split="val")


@pytest.mark.parametrize("where, value, message", [
    ("frame_start", float("inf"), r"action 0 \(gaze_on_road/looking_road\) frame_start must be an integer, got inf"),
    ("frame_end", float("nan"), r"action 0 \(gaze_on_road/looking_road\) frame_end must be an integer, got nan"),
    ("frame_shift", float("-inf"), r"stream face_camera frame_shift must be an integer, got -inf"),
    ("stream_properties", [1, 2], r"stream face_camera: stream_properties and its sync must be objects"),
])
def test_non_finite_or_misshapen_fields_name_the_file(hand_built: Path, where: str, value: object, message: str) -> None:
    """JSON's Infinity / NaN literals (Python's json reads them) or a list where an object belongs:
    one error naming the annotation file, never an OverflowError or AttributeError traceback."""
    annotation = hand_built / "gA" / "1" / "s1" / "gA_1_s1_rgb_ann_distraction.json"
    document = vcd_distraction("gA/1/s1/gA_1_s1_rgb_face.mp4")
    face = document["vcd"]["metadata"]["streams"]["face_camera"]
    if where == "frame_shift":
        face["stream_properties"]["sync"]["frame_shift"] = value
    elif where == "stream_properties":
        face["stream_properties"] = value
    else:
        document["vcd"]["actions"]["0"]["frame_intervals"][0][where] = value
    annotation.write_text(json.dumps(document))
    with pytest.raises(CorruptDataError, match="gA_1_s1_rgb_ann_distraction.json: " + message):
        DmdDataset(hand_built, split="gA")
