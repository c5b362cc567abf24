"""``perception replay --runtime onnxruntime --model``: the exported network gives the replay the same
predictions as PyTorch (same pre- and postprocessing, the network in ONNX Runtime)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from mcap_read import read_messages
from replay_setup import TINY

from perception.cli import main
from perception.replay.foxglove_sink import TOPICS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _replay(bag, out, *network: str) -> None:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        status = main(["replay", str(bag), *network, "--out", str(out), "--quiet"])
    assert status == 0, buffer.getvalue()


def _boxes(path) -> list[np.ndarray]:
    """Per frame, the (n, 3) centres of the predicted boxes in results.mcap."""
    frames = []
    for _, update in read_messages(path)[TOPICS["boxes"]]:
        p = [e.cubes[0].pose.position for e in update.entities]
        frames.append(np.array([[q.x, q.y, q.z] for q in p]).reshape(-1, 3))
    return frames


@pytest.mark.slow
def test_replay_in_onnxruntime_predicts_what_pytorch_predicts(sim_bag, sim_frames, tmp_path):
    model = tmp_path / "tiny.onnx"
    assert main(["export", "--checkpoint", str(TINY), "--out", str(model)]) == 0
    _replay(sim_bag, tmp_path / "torch", "--checkpoint", str(TINY))
    _replay(sim_bag, tmp_path / "ort", "--runtime", "onnxruntime", "--model", str(model), "--threads", "1")
    torch_boxes, ort_boxes = _boxes(tmp_path / "torch" / "results.mcap"), _boxes(tmp_path / "ort" / "results.mcap")
    assert len(torch_boxes) == len(ort_boxes) == len(sim_frames)
    assert sum(len(b) for b in torch_boxes) > 0
    for a, b in zip(torch_boxes, ort_boxes):
        np.testing.assert_allclose(b, a, atol=1e-3)


def test_replay_refuses_a_checkpoint_and_a_model_together(sim_bag, tmp_path, capsys):
    code = main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--model", str(tmp_path / "m.onnx"),
                 "--runtime", "onnxruntime", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "not both" in err and len(err.splitlines()) == 1
