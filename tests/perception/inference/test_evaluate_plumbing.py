"""Ground truth fed back as predictions through the whole scoring path gives perfect scores.

This proves the plumbing: frames of reference (ego -> global), class indices, box size order,
BEV grids, depth pixels and driver labels all reach the evaluation consistently.
"""
from __future__ import annotations

import numpy as np
import pytest
from eval_setup import tiny_config

from evaluation.segmentation import DEFAULT_THRESHOLDS
from perception.data import frame_to_sample
from perception.distributed import DistContext
from perception.inference.driver_events import score_driver
from perception.inference.records import (
    DriverObservation,
    decode_levels,
    encode_levels,
    ground_truth_prediction,
    make_record,
)
from perception.inference.scoring import (
    ground_truth_from_records,
    score_records,
    subset_ground_truth,
)
from perception.inference.sharding import shard_blocks
from perception.inference.sources import CabinStream, open_eval_source
from sensors.boxes import Boxes3D
from sensors.classes import GAZE_ZONES
from sensors.sim import simulate_cabin_sequence
from sensors.sim.driver import DriverScript

THRESHOLDS = np.asarray(DEFAULT_THRESHOLDS)


def perfect_records(frames, config, shift_x: float = 0.0):
    records = []
    for i in range(len(frames)):
        frame = frames[i]
        sample = frame_to_sample(frame, config.model)
        prediction = ground_truth_prediction(frame, sample, config.model.cameras)
        if shift_x:
            b = prediction.boxes
            prediction.boxes = Boxes3D(b.center + [shift_x, 0.0, 0.0], b.size, b.yaw, b.velocity, b.label, b.score,
                                       b.attribute)
        records.append(make_record(i, frame, sample, prediction, config.model.cameras, THRESHOLDS))
    return records


@pytest.fixture(scope="module")
def sim_frames():
    config = tiny_config(frames_per_scene=2)
    return config, [f for f in open_eval_source("sim", "val", config).frames]


def test_driver_observations_are_at_the_cabin_time(sim_frames):
    config, frames = sim_frames
    for frame, record in zip(frames, perfect_records(frames, config)):
        # the simulated cabin camera free-runs: its image (and labels) are older than the LiDAR
        assert frame.timestamp - 50_000 < frame.cabin.timestamp < frame.timestamp
        assert record.driver.timestamp_s == frame.cabin.timestamp * 1e-6


def _assert_perfect_detection(det: dict) -> None:
    present = [c for c, n in det["counts"].items() if n["gt"] > 0]
    assert len(present) >= 4, det["counts"]
    for name in present:
        assert all(ap == pytest.approx(1.0) for ap in det["label_aps"][name].values()), (name, det["label_aps"][name])
        for metric, value in det["label_tp_errors"][name].items():
            assert value is None or value == pytest.approx(0.0, abs=1e-6), (name, metric, value)


def test_ground_truth_as_prediction_scores_perfectly(sim_frames, tmp_path):
    config, frames = sim_frames
    assert not np.allclose(frames[0].ego_to_global, np.eye(4))  # the global frame is really exercised
    scores = score_records(perfect_records(frames, config), [], tmp_path, segmentation_grid=config.model.heads.segmentation.grid,
                           kind="sim")
    m = scores.metrics
    _assert_perfect_detection(m["nuscenes_detection"])
    assert m["bev_segmentation"]["miou"] == 1.0
    assert m["depth"]["per_image"]["abs_rel"] == 0.0 and m["depth"]["pixels"]["delta1"] == 1.0
    assert m["depth"]["images"] == 2 * len(frames)
    frames_m = m["driver"]["frames"]
    assert frames_m["eye_closed"]["accuracy"] == 1.0 and frames_m["gaze"]["accuracy"] == 1.0
    assert frames_m["head_pose_mae_deg"]["mean"] == 0.0
    assert (tmp_path / "results_nusc.json").is_file()


def test_shifted_boxes_fail_only_tight_thresholds(sim_frames, tmp_path):
    """A 0.7 m shift along ego x: no match at 0.5 m, matches from 1 m on (a few boxes cross the class
    range or a neighbour is nearer), translation error 0.7 m."""
    config, frames = sim_frames
    det = score_records(perfect_records(frames, config, shift_x=0.7), [], tmp_path,
                        segmentation_grid=config.model.heads.segmentation.grid, kind="sim").metrics["nuscenes_detection"]
    car = det["label_aps"]["car"]
    assert car["0.5"] == 0.0 and car["1.0"] > 0.9 and car["4.0"] > 0.9
    assert det["label_tp_errors"]["car"]["trans_err"] == pytest.approx(0.7, abs=0.05)


def test_ground_truth_as_prediction_against_official_loader(nuscenes_root, tmp_path):
    """Frames read back from a nuScenes root, predictions in their ego frame, scored against the
    ground truth the evaluator reads straight from the JSON tables (global frame)."""
    config = tiny_config()
    source = open_eval_source(str(nuscenes_root), "mini_val", config)
    assert source.kind == "nuscenes" and source.nuscenes_version == "v1.0-mini"
    scores = score_records(perfect_records(source.frames, config), [], tmp_path,
                           segmentation_grid=config.model.heads.segmentation.grid, kind="nuscenes",
                           nuscenes_root=nuscenes_root, version="v1.0-mini", split="mini_val")
    _assert_perfect_detection(scores.metrics["nuscenes_detection"])


def test_subset_ground_truth_keeps_boxes_of_chosen_samples(sim_frames):
    config, frames = sim_frames
    gt = ground_truth_from_records(perfect_records(frames, config))
    one = subset_ground_truth(gt, [gt.sample_tokens[1]])
    assert one.sample_tokens == [gt.sample_tokens[1]]
    assert len(one.boxes) == int(np.sum(gt.boxes.sample == 1)) > 0 and np.all(one.boxes.sample == 0)
    with pytest.raises(ValueError, match="not in the ground truth"):
        subset_ground_truth(gt, ["nope"])


def test_threshold_levels_keep_every_decision():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 1, 1000), THRESHOLDS, np.nextafter(THRESHOLDS, 0), [0.0, 1.0]]).astype(np.float32)
    decoded = decode_levels(encode_levels(p, THRESHOLDS), THRESHOLDS)
    np.testing.assert_array_equal(decoded[None] >= THRESHOLDS[:, None], p[None] >= THRESHOLDS[:, None])


def _observations(seed: int, seconds: float, fps: float, corrupt: bool = False) -> list[DriverObservation]:
    script = DriverScript(seed)
    out = []
    for i in range(int(seconds * fps)):
        t = i / fps
        labels = script.state(t).labels()
        zone = 0 if corrupt else labels.gaze_zone  # "always looking at the road"
        out.append(DriverObservation("stream", t, 0.0 if corrupt else float(labels.eye_state), np.eye(len(GAZE_ZONES))[zone],
                                     np.asarray(labels.head_pose), float(labels.phone), labels))
    return out


def test_driver_events_perfect_and_blind_predictions():
    perfect = score_driver(_observations(0, 120.0, 5.0))
    events = perfect["events"]
    assert events["all"]["target"] >= 3
    assert events["all"]["precision"] == 1.0 and events["all"]["recall"] == 1.0
    assert events["all"]["mean_delay_s"] == 0.0 and events["all"]["false_alerts_per_hour"] == 0.0
    blind = score_driver(_observations(0, 120.0, 5.0, corrupt=True))["events"]["all"]
    assert blind["predicted"] < blind["target"] and blind["recall"] < 1.0


def test_cabin_stream_equals_simulator_sequence():
    stream = CabinStream(4, 1.0, 5.0, (60, 80))
    reference = list(simulate_cabin_sequence(4, 1.0, 5.0, (60, 80)))
    assert len(stream) == len(reference) == 5
    for k in (0, 3):
        camera, labels = stream[k]
        np.testing.assert_array_equal(camera.image, reference[k][0].image)
        assert labels == reference[k][1] and camera.timestamp == reference[k][0].timestamp


@pytest.mark.parametrize("count, block, world", [(35, 16, 2), (7, 1, 3), (3, 2, 4), (0, 4, 2)])
def test_shards_are_the_single_process_batches(count, block, world):
    single = shard_blocks(count, block, DistContext())
    shards = [shard_blocks(count, block, DistContext(rank=r, world_size=world)) for r in range(world)]
    assert sorted(b for s in shards for b in s) == single
    assert [i for b in single for i in b] == list(range(count))


def test_unlabelled_frames_are_skipped_not_scored(sim_frames, tmp_path):
    config, frames = sim_frames
    records = perfect_records(frames, config)
    for r in records:
        r.gt_boxes, r.bev_gt = None, None
    m = score_records(records, [], tmp_path, segmentation_grid=config.model.heads.segmentation.grid, kind="sim").metrics
    assert "nuscenes_detection" not in m and "bev_segmentation" not in m
    assert set(m["skipped"]) == {"nuscenes_detection", "bev_segmentation"}
    assert (tmp_path / "results_nusc.json").is_file()
