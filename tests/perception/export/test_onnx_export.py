"""ONNX export and ONNX Runtime inference: raw outputs equal PyTorch's, the graph is plain ONNX.

Equality is checked against ``FusionModel.forward`` (the Numba-kernel path the model trains and
evaluates with), not against the export's own torch graph. The default run exports a LiDAR-only
detection model (the fastest export); the shipped checkpoint with every head, on all sensor
scenarios, is exported once for the slow tests.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnx
from export_setup import (
    ATOL,
    SCENARIOS,
    assert_outputs_equal,
    calibrate_batch_norm,
    scenario,
)
from small_setup import tiny_config

from perception.checkpoint import save_checkpoint
from perception.cli import main
from perception.config import config_to_dict
from perception.data import collate_frames, frame_to_sample
from perception.demo import SHIPPED_CHECKPOINT
from perception.export import OnnxRunner, export_onnx
from perception.model import FusionModel, load_model
from sensors.classes import DETECTION_CLASSES, MAP_CLASSES


def run_both(model: FusionModel, runner: OnnxRunner, frames: list) -> tuple[dict, dict]:
    batch = collate_frames([frame_to_sample(f, model.config) for f in frames])
    with torch.inference_mode():
        return model(batch), runner(batch)


@pytest.fixture(scope="module")
def lidar_detector(tmp_path_factory, pinned_frame):
    """A randomly initialised LiDAR-only detection model of the small config (BatchNorm statistics
    calibrated on the pinned frame) and its export."""
    config = tiny_config()
    h = config.model.heads
    heads = dataclasses.replace(h, segmentation=dataclasses.replace(h.segmentation, enabled=False),
                                depth=dataclasses.replace(h.depth, enabled=False),
                                driver=dataclasses.replace(h.driver, enabled=False))
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, use_camera=False, heads=heads,
                                                                  modality_dropout=0.0))
    torch.manual_seed(0)
    model = FusionModel(config.model)
    calibrate_batch_norm(model, [pinned_frame, pinned_frame])
    folder = tmp_path_factory.mktemp("lidar_detector")
    path = export_onnx(model, config, folder / "model.onnx")
    save_checkpoint({"config": config_to_dict(config), "model": model.state_dict()}, folder / "ckpt.pt")
    return model, config, path


def test_lidar_model_outputs_equal_pytorch_for_batches_of_one_and_two(lidar_detector, pinned_frame):
    model, _, path = lidar_detector
    runner = OnnxRunner(path, threads=1)
    sparse = dataclasses.replace(pinned_frame, lidar=dataclasses.replace(pinned_frame.lidar,
                                                                        points=pinned_frame.lidar.points[::3]))
    for frames in ([pinned_frame], [pinned_frame, sparse], [scenario(pinned_frame, "camera_only")]):
        ref, got = run_both(model, runner, frames)
        assert_outputs_equal(ref, got)
        if len(frames) == 2:  # each sample its own answer (not one broadcast over the batch)
            assert (got["detection"]["regression"][0] - got["detection"]["regression"][1]).abs().max() > 1e-2
    assert not got["lidar_present"].any()  # the last batch had no LiDAR (and this model no camera)



def test_a_dropped_sensor_reaches_the_onnx_graph_and_the_hook_comes_off(lidar_detector, pinned_frame):
    """``evaluate --drop`` registers its hook on the runner as on the torch model (it used to raise)."""
    from perception.inference.modality import drop_sensor

    model, _, path = lidar_detector
    runner = OnnxRunner(path, threads=1)
    handles = [drop_sensor(network, "lidar") for network in (model, runner)]
    ref, got = run_both(model, runner, [pinned_frame])
    assert not got["lidar_present"].any()
    assert_outputs_equal(ref, got)
    for handle in handles:
        handle.remove()
    ref, got = run_both(model, runner, [pinned_frame])
    assert got["lidar_present"].all()
    assert_outputs_equal(ref, got)

def test_graph_is_standard_onnx_with_dynamic_batch_and_metadata(lidar_detector):
    _, config, path = lidar_detector
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert {o.domain for o in proto.opset_import} <= {"", "ai.onnx"}
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}  # no custom operator
    scatters = [n for n in proto.graph.node if n.op_type == "ScatterND"]
    assert scatters, "the pillar scatter is a ScatterND"
    for value in (*proto.graph.input, *proto.graph.output):
        first = value.type.tensor_type.shape.dim[0]
        assert first.dim_param, f"{value.name}: first axis must be dynamic"
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["config"]) == config_to_dict(config)
    assert json.loads(props["detection_classes"]) == list(DETECTION_CLASSES)
    assert json.loads(props["map_classes"]) == list(MAP_CLASSES)
    assert [o.name for o in proto.graph.output] == ["detection_heatmap", "detection_regression", "camera_present",
                                                    "lidar_present"]  # heads switched off are absent



def _with_config(path, tmp_path, name: str, edit) -> str:
    """A copy of the exported file whose metadata config went through ``edit`` (the graph unchanged)."""
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == "config":
            config = json.loads(prop.value)
            edit(config["model"])
            prop.value = json.dumps(config)
    out = tmp_path / name
    onnx.save_model(proto, str(out))
    return str(out)


def test_a_graph_that_does_not_fit_its_metadata_config_is_one_line(lidar_detector, tmp_path, capsys):
    """A file whose graph comes from another config than its metadata (cameras, BEV grid, pillar size)
    is refused when it is loaded, in one line naming the tensor, instead of failing inside ONNX Runtime."""
    _, _, path = lidar_detector

    def cameras(m):
        m["cameras"] = m["cameras"][:1]

    def grid(m):
        m["bev"]["grid"]["resolution"] = 1.6

    def points(m):
        m["lidar"]["max_points"] += 1

    cases = [(cameras, "'camera_valid'"), (grid, "'detection_heatmap'"), (points, "'voxels'")]
    for edit, tensor in cases:
        model = _with_config(path, tmp_path, f"{edit.__name__}.onnx", edit)
        code = main(["evaluate", "--runtime", "onnxruntime", "--model", model, "--data", "sim",
                     "--out", str(tmp_path / "eval")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert tensor in err and "another config" in err, err
    assert not (tmp_path / "eval").exists()
    OnnxRunner(path)  # the file as exported fits its own config

@pytest.mark.slow
def test_a_module_that_cannot_be_exported_is_named_in_one_line(lidar_detector, tmp_path, monkeypatch, capsys):
    from perception.model.heads import DetectionHead

    def host_only(self, bev):
        return {"heatmap": torch.from_numpy(bev.numpy()), "regression": bev}

    monkeypatch.setattr(DetectionHead, "forward", host_only)
    out = tmp_path / "broken.onnx"
    code = main(["export", "--checkpoint", str(lidar_detector[2].parent / "ckpt.pt"), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "module 'heads.detection' (DetectionHead)" in err
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped checkpoint (every head), exported once."""
    model, config = load_model(SHIPPED_CHECKPOINT)
    path = export_onnx(model, config, tmp_path_factory.mktemp("shipped") / "tiny.onnx")
    return model, config, OnnxRunner(path, threads=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_model_outputs_equal_pytorch(shipped, pinned_frame, name):
    model, _, runner = shipped
    ref, got = run_both(model, runner, [scenario(pinned_frame, name)])
    assert_outputs_equal(ref, got)
    assert bool(got["camera_present"][0]) == (name != "lidar_only")
    assert bool(got["lidar_present"][0]) == (name != "camera_only")


@pytest.mark.slow
def test_shipped_model_batch_of_different_rigs_and_the_cabin_subgraph(shipped, pinned_frame):
    model, _, runner = shipped
    # two rigs in one batch, and a sample without any street camera next to them (its depth is not zeroed)
    frames = [scenario(pinned_frame, "missing_camera"), pinned_frame, scenario(pinned_frame, "lidar_only")]
    ref, got = run_both(model, runner, frames)
    assert_outputs_equal(ref, got)
    cabin = collate_frames([frame_to_sample(f, model.config) for f in frames]).cabin
    with torch.inference_mode():
        expected = model.driver(cabin)
    for key, value in runner.driver(cabin).items():
        torch.testing.assert_close(value, expected[key], atol=ATOL, rtol=0)



@pytest.mark.slow
def test_shipped_graph_pools_with_standard_operators_and_decodes_outside(shipped):
    """The camera branch too (the default run exports a LiDAR-only model): default domain only, the BEV
    pooling a ScatterND with reduction add, and nothing of what docs/deployment.md puts outside the graph
    (rotated NMS, top-k, the decoding's sigmoid)."""
    proto = onnx.load(str(shipped[2].path))
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"} and not proto.functions
    reductions = [a.s for n in proto.graph.node if n.op_type == "ScatterND" for a in n.attribute if a.name == "reduction"]
    assert reductions == [b"add"], reductions  # the BEV pooling; the pillar scatter has none
    assert not ops & {"NonMaxSuppression", "TopK", "Sigmoid", "Loop", "If"}, ops
    assert [i.name for i in proto.graph.input] == list(shipped[2].spec.input_names)

@pytest.mark.slow
def test_evaluate_metrics_equal_between_runtimes(tmp_path, capsys):
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(onnx_file)]) == 0
    common = ["--data", "sim", "--max-samples", "2", "--cabin-seconds", "1", "--samples", "0", "--device", "cpu"]
    assert main(["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(tmp_path / "torch"), *common]) == 0
    assert main(["evaluate", "--runtime", "onnxruntime", "--model", str(onnx_file), "--threads", "1",
                 "--out", str(tmp_path / "ort"), *common]) == 0, capsys.readouterr().err
    a, b = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("torch", "ort"))
    pairs = [
        (a["nuscenes_detection"]["nd_score"], b["nuscenes_detection"]["nd_score"]),
        (a["nuscenes_detection"]["mean_ap"], b["nuscenes_detection"]["mean_ap"]),
        (a["bev_segmentation"]["miou"], b["bev_segmentation"]["miou"]),
        (a["depth"]["per_image"]["abs_rel"], b["depth"]["per_image"]["abs_rel"]),
        (a["driver"]["frames"]["gaze"]["accuracy"], b["driver"]["frames"]["gaze"]["accuracy"]),
        (a["driver"]["frames"]["head_pose_mae_deg"]["yaw"], b["driver"]["frames"]["head_pose_mae_deg"]["yaw"]),
    ]
    np.testing.assert_allclose([x for x, _ in pairs], [y for _, y in pairs], atol=1e-3, rtol=0)
    assert a["driver"]["frames"]["eye_closed"]["frames"] == b["driver"]["frames"]["eye_closed"]["frames"] == 2 + 10


def test_bad_runtime_arguments_end_in_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07not an onnx model")
    cases = [
        (["--runtime", "onnxruntime", "--model", str(tmp_path / "missing.onnx")], "missing.onnx: model file (ONNX) is missing"),
        (["--runtime", "onnxruntime", "--model", str(junk)], "junk.onnx"),
        (["--model", str(junk)], "run it with --runtime onnxruntime"),
        (["--runtime", "onnxruntime", "--checkpoint", str(SHIPPED_CHECKPOINT)], "give it with --model"),
    ]
    for extra, message in cases:
        code = main(["evaluate", *extra, "--data", "sim", "--out", str(tmp_path / "eval")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and message in err, (extra, err)
    assert not (tmp_path / "eval").exists()
    assert main(["export", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert main(["export", "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
