"""Bad KITTI input: specific errors naming file and reason; corrupted files never give garbage."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kitti_frames import make_frame, scene_boxes

from sensors.errors import (
    CorruptDataError,
    DanglingReferenceError,
    InvalidValueError,
    MissingDataError,
    SensorDataError,
)
from sensors.frame import Frame
from sensors.kitti.reader import KittiDataset
from sensors.kitti.writer import write_kitti

FILES = ("velodyne/000000.bin", "image_2/000000.png", "calib/000000.txt", "label_2/000000.txt")


@pytest.fixture(scope="module")
def base_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kitti")
    write_kitti([make_frame(scene_boxes())], root)
    return root


@pytest.fixture
def root(base_root, tmp_path) -> Path:
    shutil.copytree(base_root, tmp_path / "kitti")
    return tmp_path / "kitti"


def _read(root: Path) -> Frame:
    return KittiDataset(root, split="train")[0]


def _edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_truncated_velodyne(root):
    path = root / "training/velodyne/000000.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(CorruptDataError, match="multiple of 16") as info:
        _read(root)
    assert "000000.bin" in str(info.value)


def test_nan_point(root):
    path = root / "training/velodyne/000000.bin"
    points = np.fromfile(path, np.float32).reshape(-1, 4)
    points[7, 1] = np.nan
    path.write_bytes(points.tobytes())
    with pytest.raises(InvalidValueError, match="point 7 has NaN"):
        _read(root)


def test_reflectance_out_of_range(root):
    path = root / "training/velodyne/000000.bin"
    points = np.fromfile(path, np.float32).reshape(-1, 4)
    points[3, 3] = 200.0
    path.write_bytes(points.tobytes())
    with pytest.raises(InvalidValueError, match="reflectance"):
        _read(root)


def test_image_that_fails_to_decode(root):
    (root / "training/image_2/000000.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(CorruptDataError, match="cannot be decoded") as info:
        _read(root)
    assert "000000.png" in str(info.value)


def test_missing_calibration_file(root):
    (root / "training/calib/000000.txt").unlink()
    with pytest.raises(MissingDataError, match="calibration file is missing"):
        _read(root)


@pytest.mark.parametrize("field", ["P2", "R0_rect", "Tr_velo_to_cam"])
def test_missing_calibration_field(root, field):
    path = root / "training/calib/000000.txt"
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if not line.startswith(field + ":")))
    with pytest.raises(MissingDataError, match=f"field {field} is missing") as info:
        _read(root)
    assert "calib/000000.txt" in str(info.value)


def test_calibration_rotation_that_is_not_a_rotation(root):
    _edit_text(root / "training/calib/000000.txt", "R0_rect: 1.000000000000e+00", "R0_rect: 3.000000000000e+00")
    with pytest.raises(InvalidValueError, match="R0_rect is not a rotation"):
        _read(root)


def test_label_line_with_wrong_field_count(root):
    path = root / "training/label_2/000000.txt"
    lines = path.read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:-2])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptDataError, match="line 2: 13 fields") as info:
        _read(root)
    assert "label_2/000000.txt" in str(info.value)


def test_label_with_negative_size(root):
    path = root / "training/label_2/000000.txt"
    fields = path.read_text().splitlines()[0].split()
    fields[9] = "-1.5"
    path.write_text(" ".join(fields) + "\n")
    with pytest.raises(InvalidValueError, match="line 1: non-positive size"):
        _read(root)


def test_split_file_naming_a_missing_frame(root):
    (root / "ImageSets/train.txt").write_text("000000\n000042\n")
    with pytest.raises(DanglingReferenceError, match="line 2: frame '000042'") as info:
        KittiDataset(root, split="train")
    assert "train.txt" in str(info.value)


def test_missing_split_file_and_missing_velodyne_folder(root, tmp_path):
    with pytest.raises(MissingDataError, match="split file is missing"):
        KittiDataset(root, split="trainval")
    with pytest.raises(MissingDataError, match="velodyne folder is missing"):
        KittiDataset(tmp_path / "nowhere")


def _check_valid(frame: Frame) -> None:
    points = frame.lidar.points
    assert points.shape[1] == 5 and np.all(np.isfinite(points))
    assert np.all((points[:, 3] >= 0) & (points[:, 3] <= 255 + 1e-3))
    camera = frame.cameras["CAM_FRONT"]
    assert camera.image.shape == (90, 160, 3)
    if frame.annotations is not None:
        boxes = frame.annotations.boxes
        assert np.all(boxes.size > 0) and np.all(np.isfinite(boxes.center))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(FILES),
    cut=st.floats(0.0, 1.0),
    position=st.floats(0.0, 1.0),
    byte=st.integers(0, 255),
    truncate=st.booleans(),
)
def test_corrupted_files_raise_or_read_valid(base_root, which, cut, position, byte, truncate):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "kitti"
        shutil.copytree(base_root, root)
        path = root / "training" / which
        data = bytearray(path.read_bytes())
        if truncate:
            data = data[: int(cut * len(data))]
        elif data:
            data[min(int(position * len(data)), len(data) - 1)] = byte
        path.write_bytes(bytes(data))
        try:
            frame = _read(root)
        except SensorDataError as error:
            assert error.source is not None and error.reason
            return
        _check_valid(frame)
