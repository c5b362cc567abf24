"""``perception evaluate --data <DMD root>``: the driver head scored on cabin recordings in the DMD
layout (one written by the simulator, one partly labelled as DMD's distraction recordings are)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_setup import tiny_config, write_checkpoint

from perception.cli import main
from sensors.dmd.writer import write_dmd
from sensors.sim import simulate_cabin_sequence


def test_evaluate_scores_the_driver_head_on_a_dmd_root(tmp_path: Path, capsys) -> None:
    checkpoint, config_file = write_checkpoint(tiny_config(), tmp_path)
    root = tmp_path / "dmd"
    write_dmd(simulate_cabin_sequence(seed=6, duration_s=4.0, fps=10.0, size=(60, 80)), root, "gS_1_s1_sim")
    # A distraction-style recording: gaze and actions only (no eye state): scored for distraction events only.
    write_dmd(((camera, type(labels)(None, None, labels.gaze_zone, None, labels.phone))
               for camera, labels in simulate_cabin_sequence(seed=7, duration_s=2.0, fps=10.0, size=(60, 80))),
              root, "gS_2_s1_sim")
    out = tmp_path / "eval"
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", str(root),
                 "--split", "all", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "acc" in captured.out
    m = json.loads((out / "metrics.json").read_text())
    frames = m["driver"]["frames"]
    assert frames["eye_closed"]["frames"] == 40 and frames["phone"]["frames"] == 60
    assert frames["off_road"]["frames"] > 40 and np.isfinite(frames["gaze"]["accuracy"])
    assert "head_pose_mae_deg" not in frames  # DMD has no head pose
    events = m["driver"]["events"]
    assert "events_skipped_streams" not in m["driver"]
    assert events["microsleep"]["duration_s"] == pytest.approx(4.0)  # the first recording only
    assert events["long_distraction"]["duration_s"] == pytest.approx(6.0)  # both recordings
    assert events["unresponsive"]["duration_s"] == pytest.approx(4.0)
    assert m["meta"]["cabin_stream_frames"] == 60 and m["meta"]["cabin_streams"] == 2 and m["meta"]["frames"] == 0
    assert "## Driver monitoring" in (out / "report.md").read_text()
    code = main(["evaluate", "--config", str(config_file), "--checkpoint", str(checkpoint), "--data", str(root),
                 "--split", "val", "--out", str(tmp_path / "eval2")])
    assert code == 2 and "DMD has no official splits" in capsys.readouterr().err


def test_training_on_a_dmd_root_is_refused(tmp_path: Path) -> None:
    from perception.train.data import build_train_dataset

    write_dmd(simulate_cabin_sequence(seed=6, duration_s=1.0, fps=10.0, size=(60, 80)), tmp_path, "gS_1_s1_sim")
    with pytest.raises(ValueError, match="for evaluation"):
        build_train_dataset(tiny_config(), str(tmp_path))
