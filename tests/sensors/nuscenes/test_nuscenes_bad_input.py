"""Bad nuScenes input raises SensorDataError subclasses naming the file; writer validation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nuscenes_frames import make_frames

from sensors.errors import (
    CorruptDataError,
    DanglingReferenceError,
    InvalidValueError,
    MissingDataError,
    SensorDataError,
)
from sensors.frame import Frame
from sensors.nuscenes.reader import NuScenesDataset
from sensors.nuscenes.splits import SPLITS
from sensors.nuscenes.writer import write_nuscenes


@pytest.fixture()
def root(tmp_path: Path, nuscenes_root: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(nuscenes_root, copy)
    return copy


def _table(root: Path, name: str) -> list[dict]:
    return json.loads((root / "v1.0-mini" / f"{name}.json").read_text())


def _save(root: Path, name: str, rows: list[dict]) -> None:
    (root / "v1.0-mini" / f"{name}.json").write_text(json.dumps(rows))


def _key_file(root: Path, suffix: str) -> Path:
    return next(p for p in sorted((root / "samples").rglob(f"*{suffix}")))


def test_truncated_point_file(root: Path) -> None:
    path = _key_file(root, ".pcd.bin")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(CorruptDataError, match="multiple of 20") as error:
        NuScenesDataset(root)[0]
    assert error.value.source == str(path)


def test_nan_points(root: Path) -> None:
    path = _key_file(root, ".pcd.bin")
    points = np.fromfile(path, dtype="<f4").reshape(-1, 5)
    points[3, 1] = np.nan
    points[4, 0] = np.inf
    points.tofile(path)
    with pytest.raises(InvalidValueError, match="2 points contain NaN or Inf"):
        NuScenesDataset(root)[0]


def test_undecodable_image(root: Path) -> None:
    path = _key_file(root, ".jpg")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(CorruptDataError, match="cannot be decoded") as error:
        NuScenesDataset(root)[0]
    assert error.value.source == str(path)
    assert NuScenesDataset(root, load_images=False)[0].lidar is not None


def test_missing_table_file_and_row(root: Path) -> None:
    (root / "v1.0-mini" / "ego_pose.json").unlink()
    with pytest.raises(MissingDataError, match="table file is missing"):
        NuScenesDataset(root)


def test_missing_ego_pose_row_is_dangling(root: Path) -> None:
    key_lidar = next(r for r in _table(root, "sample_data") if r["is_key_frame"] and r["fileformat"] == "pcd")
    _save(root, "ego_pose", [r for r in _table(root, "ego_pose") if r["token"] != key_lidar["ego_pose_token"]])
    with pytest.raises(DanglingReferenceError, match="ego_pose.json"):
        list(NuScenesDataset(root, load_images=False))


def test_dangling_instance_token(root: Path) -> None:
    rows = _table(root, "sample_annotation")
    rows[0]["instance_token"] = "0" * 32
    _save(root, "sample_annotation", rows)
    with pytest.raises(DanglingReferenceError, match="instance.json"):
        list(NuScenesDataset(root, load_images=False))


def test_negative_box_size(root: Path) -> None:
    rows = _table(root, "sample_annotation")
    rows[0]["size"][1] = -4.0
    _save(root, "sample_annotation", rows)
    with pytest.raises(InvalidValueError, match="size"):
        list(NuScenesDataset(root, load_images=False))


def test_missing_field_and_bad_json(root: Path) -> None:
    rows = _table(root, "sample")
    del rows[0]["timestamp"]
    _save(root, "sample", rows)
    with pytest.raises(MissingDataError, match="no field 'timestamp'"):
        list(NuScenesDataset(root, load_images=False))
    (root / "v1.0-mini" / "scene.json").write_text("[{")
    with pytest.raises(CorruptDataError, match="invalid JSON"):
        NuScenesDataset(root)


def _valid(frame: Frame) -> None:
    assert frame.lidar is not None and frame.lidar.points.dtype == np.float32
    assert np.all(np.isfinite(frame.lidar.points))
    for camera in frame.cameras.values():
        assert camera.image.shape == (24, 32, 3)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory, nuscenes_root: Path) -> Path:
    copy = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(nuscenes_root, copy)
    return copy


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(["pcd", "jpg", "sample_annotation", "sample_data", "ego_pose", "calibrated_sensor", "depth"]),
    position=st.floats(0.0, 1.0),
    mode=st.sampled_from(["truncate", "flip"]),
    xor=st.integers(1, 255),
)
def test_corrupted_files_raise_or_read_valid_frames(fuzz_root: Path, target: str, position: float, mode: str, xor: int) -> None:
    if target in ("pcd", "jpg"):
        path = _key_file(fuzz_root, f".{target}" if target == "jpg" else ".pcd.bin")
    elif target == "depth":
        path = next(iter(sorted((fuzz_root / "depth").rglob("*.png"))))
    else:
        path = fuzz_root / "v1.0-mini" / f"{target}.json"
    original = path.read_bytes()
    index = min(int(position * len(original)), len(original) - 1)
    broken = original[:index] if mode == "truncate" else (
        original[:index] + bytes([original[index] ^ xor]) + original[index + 1 :]
    )
    path.write_bytes(broken)
    try:
        for frame in NuScenesDataset(fuzz_root, sweeps=2):
            _valid(frame)
    except SensorDataError as error:
        assert error.source and error.reason
    finally:
        path.write_bytes(original)


def test_writer_rejects_unofficial_scene(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an official v1.0-mini scene"):
        write_nuscenes(make_frames(1, scene="my-drive"), tmp_path / "out")
    with pytest.raises(ValueError, match="not an official v1.0-trainval scene"):
        write_nuscenes(make_frames(1, scene=SPLITS["test"][0]), tmp_path / "out", version="v1.0-trainval")
    frames = make_frames(1)
    frames[0].sweeps[0].timestamp = frames[0].sweeps[1].timestamp
    with pytest.raises(ValueError, match="same timestamp"):
        write_nuscenes(frames, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_writer_is_atomic(tmp_path: Path, nuscenes_root: Path) -> None:
    """An error half-way leaves the previous dataset intact and no temporary folder behind."""
    root = tmp_path / "data"
    shutil.copytree(nuscenes_root, root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    frames = make_frames(2)
    frames[1].sweeps[0].timestamp = frames[1].timestamp + 1  # sweep after its key frame: invalid
    with pytest.raises(ValueError, match="not before the key sweep"):
        write_nuscenes(frames, root)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
    write_nuscenes(make_frames(2), root)  # replacing an existing dataset works
    assert len(NuScenesDataset(root)) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_nuscenes(make_frames(1), tmp_path / "other")
