"""Files that are not what their name says: each is refused in one line naming
file, line or field, instead of being read as garbage.

The inputs are built here byte by byte (numpy ``tofile``, OpenCV ``imwrite``, calibration text
with the values of a real KITTI frame), not with the project's writers.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sensors.errors import CorruptDataError, InvalidValueError, MissingDataError
from sensors.frame import Lidar, Sweep
from sensors.kitti.calib import parse_calib
from sensors.kitti.labels import KITTI_TYPES, parse_label_line, read_kitti_labels
from sensors.kitti.reader import KittiDataset, read_velodyne
from sensors.nuscenes.files import read_points
from sensors.projection import check_principal_point

#: Calibration of a real KITTI object frame (image 1242x375).
P2 = ("7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 4.485728000000e+01 0.000000000000e+00 "
      "7.215377000000e+02 1.728540000000e+02 2.163791000000e-01 0.000000000000e+00 0.000000000000e+00 "
      "1.000000000000e+00 2.745884000000e-03")
R0 = ("9.999239000000e-01 9.837760000000e-03 -7.445048000000e-03 -9.869795000000e-03 9.999421000000e-01 "
      "-4.278459000000e-03 7.402527000000e-03 4.351614000000e-03 9.999631000000e-01")
TR = ("7.533745000000e-03 -9.999714000000e-01 -6.166020000000e-04 -4.069766000000e-03 1.480249000000e-02 "
      "7.280733000000e-04 -9.998902000000e-01 -7.631618000000e-02 9.998621000000e-01 7.523790000000e-03 "
      "1.480755000000e-02 -2.717806000000e-01")
WIDTH, HEIGHT = 1242, 375
CAR = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 1.73 1.87 4.36 -0.16 1.68 19.32 -1.57"


def _kitti_scan(n: int, seed: int = 0) -> np.ndarray:
    """(n, 4) float32 velodyne points as a real scan has them: metres and reflectance 0..1."""
    rng = np.random.default_rng(seed)
    points = np.empty((n, 4), np.float32)
    points[:, 0] = rng.uniform(2.0, 60.0, n)
    points[:, 1] = rng.uniform(-30.0, 30.0, n)
    points[:, 2] = rng.uniform(-1.7, 1.5, n)
    points[:, 3] = rng.uniform(0.0, 1.0, n)
    return points


def _nuscenes_sweep(n: int, seed: int = 0) -> np.ndarray:
    """(n, 5) float32 rows of a real ``.pcd.bin``: metres, intensity 0..255 integers, ring 0..31."""
    rng = np.random.default_rng(seed)
    points = np.empty((n, 5), np.float32)
    points[:, :3] = rng.uniform(-50.0, 50.0, (n, 3))
    points[:, 3] = rng.integers(0, 256, n)
    points[:, 4] = rng.integers(0, 32, n)
    return points


# -- LiDAR files ---------------------------------------------------------------------------------
def test_a_real_nuscenes_sweep_reads_exactly(tmp_path):
    points = _nuscenes_sweep(200)
    path = tmp_path / "sweep.pcd.bin"
    points.tofile(path)
    np.testing.assert_array_equal(read_points(path), points)


def test_kitti_scan_renamed_pcd_bin_whose_size_fits_is_refused_naming_the_first_bad_point(tmp_path):
    scan = _kitti_scan(100)  # 1600 bytes: a whole number of 20-byte points, so only the values tell
    path = tmp_path / "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin"
    scan.tofile(path)
    as_five = scan.reshape(-1).reshape(-1, 5)  # what a 5-column reader sees
    intensity_ok = (as_five[:, 3] >= 0) & (as_five[:, 3] <= 255)
    ring_ok = (as_five[:, 4] == np.round(as_five[:, 4])) & (as_five[:, 4] >= 0) & (as_five[:, 4] <= 127)
    first_bad = int(np.flatnonzero(~(intensity_ok & ring_ok))[0])
    with pytest.raises(InvalidValueError) as info:
        read_points(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert f"point {first_bad}:" in message and "not a nuScenes .pcd.bin" in message


def test_kitti_scan_renamed_pcd_bin_of_another_size_is_refused_by_its_size(tmp_path):
    path = tmp_path / "scan.pcd.bin"
    _kitti_scan(101).tofile(path)  # 1616 bytes, not a multiple of 20
    with pytest.raises(CorruptDataError, match="1616 bytes is not a multiple of 20"):
        read_points(path)


@pytest.mark.parametrize("column, value, reason", [
    (3, 300.0, "intensity 300 outside"), (3, -1.0, "intensity -1 outside"),
    (4, 2.5, "ring index 2.5 is not an integer"), (4, 200.0, "ring index 200 is not an integer"),
])
def test_one_bad_value_in_a_column_names_the_point(tmp_path, column, value, reason):
    points = _nuscenes_sweep(50)
    points[17, column] = value
    path = tmp_path / "a.pcd.bin"
    points.tofile(path)
    with pytest.raises(InvalidValueError, match=f"point 17: {reason}"):
        read_points(path)


@pytest.mark.parametrize("reader, name", [(read_points, "a.pcd.bin"), (read_velodyne, "000000.bin")])
def test_a_zero_byte_lidar_file_is_an_error_not_an_empty_scan(tmp_path, reader, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(CorruptDataError, match="empty file"):
        reader(path)


@pytest.mark.parametrize("reader", [read_points, read_velodyne])
def test_a_folder_where_a_lidar_file_belongs_is_reported_as_a_folder(tmp_path, reader):
    path = tmp_path / "000000.bin"
    path.mkdir()
    with pytest.raises(InvalidValueError, match="is a folder"):
        reader(path)
    with pytest.raises(MissingDataError, match="missing"):
        reader(tmp_path / "absent.bin")


def test_nuscenes_sweep_renamed_kitti_bin_is_refused(tmp_path):
    path = tmp_path / "000000.bin"
    _nuscenes_sweep(80).tofile(path)  # 1600 bytes, a multiple of 16: the reflectance column tells
    with pytest.raises(InvalidValueError, match="reflectance outside"):
        read_velodyne(path)


def test_ring_index_passed_as_the_time_offset_column_is_refused():
    points = _nuscenes_sweep(40)  # the fifth column holds ring indices 0..31, not seconds
    with pytest.raises(ValueError, match=r"time offset column .* \(a ring index\?\)"):
        Lidar(points, np.eye(4), 0)
    with pytest.raises(ValueError, match="time offset column"):
        Sweep(points, np.eye(4), 0)
    points[:, 4] = np.linspace(-0.45, 0.0, 40)  # ten sweeps at 20 Hz: accepted
    assert Lidar(points, np.eye(4), 0).points[0, 4] == np.float32(-0.45)


def test_intensity_outside_0_255_is_refused_by_the_data_model():
    points = _nuscenes_sweep(10)
    points[:, 4] = 0.0
    points[3, 3] = 1000.0
    with pytest.raises(ValueError, match="intensity must be in"):
        Lidar(points, np.eye(4), 0)


# -- KITTI calibration text ----------------------------------------------------------------------
def _calib(p2_line: str) -> str:
    return f"{p2_line}\nR0_rect: {R0}\nTr_velo_to_cam: {TR}\n"


@pytest.mark.parametrize("p2_line", [f"P2: {P2}", f"P2:\t{P2}", f"P2:{P2}", f"P2\t{P2}", f"  P2 :  {P2}  ",
                                     "P2: " + "\t".join(P2.split())])
def test_p2_followed_by_a_tab_or_no_space_is_parsed(p2_line):
    calib = parse_calib(_calib(p2_line), Path("calib/000000.txt"))
    np.testing.assert_array_equal(calib.projections[2].ravel(), np.array(P2.split(), dtype=np.float64))


def test_a_calibration_field_given_twice_is_refused_naming_the_line():
    with pytest.raises(CorruptDataError, match="line 4: P2 appears a second time"):
        parse_calib(_calib(f"P2: {P2}") + f"P2: {P2}\n", Path("calib/000000.txt"))


def test_a_field_spelled_differently_is_still_missing():
    with pytest.raises(MissingDataError, match="P2 is missing"):
        parse_calib(_calib(f"P_2: {P2}"), Path("calib/000000.txt"))


# -- KITTI labels ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", KITTI_TYPES)
def test_every_kitti_type_is_accepted(name):
    assert parse_label_line(CAR.replace("Car", name, 1), Path("x.txt"), 1).type == name


def test_lower_case_type_is_refused_with_its_spelling(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(CAR + "\n" + CAR.replace("Car", "car", 1) + "\n")
    with pytest.raises(InvalidValueError) as info:
        read_kitti_labels(path)
    assert str(info.value) == f"{path}: line 2: unknown KITTI type 'car'; did you mean 'Car'? types are case-sensitive"


def test_unknown_type_is_refused_naming_file_and_line(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text("\n" + CAR.replace("Car", "Bus", 1) + "\n")
    with pytest.raises(InvalidValueError, match=r"000000.txt: line 2: unknown KITTI type 'Bus'; expected one of Car, Van"):
        read_kitti_labels(path)


def test_binary_label_file_is_refused(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_bytes(b"Car \xff\xfe")
    with pytest.raises(CorruptDataError, match="not ascii text"):
        read_kitti_labels(path)


# -- images against calibration --------------------------------------------------------------------
def _kitti_root(tmp_path: Path, image_size: tuple[int, int]) -> Path:
    base = tmp_path / "kitti" / "training"
    for folder in ("velodyne", "calib", "image_2", "label_2"):
        (base / folder).mkdir(parents=True)
    _kitti_scan(64).tofile(base / "velodyne" / "000000.bin")
    (base / "calib" / "000000.txt").write_text(_calib(f"P2: {P2}"))
    (base / "label_2" / "000000.txt").write_text(CAR + "\n")
    width, height = image_size
    cv2.imwrite(str(base / "image_2" / "000000.png"), np.full((height, width, 3), 90, np.uint8))
    return tmp_path / "kitti"


def test_kitti_frame_of_the_calibrated_size_reads(tmp_path):
    frame = KittiDataset(_kitti_root(tmp_path, (WIDTH, HEIGHT)))[0]
    assert frame.cameras["CAM_FRONT"].image.shape == (HEIGHT, WIDTH, 3)
    assert len(frame.annotations.boxes) == 1


@pytest.mark.parametrize("load_images", [True, False])
@pytest.mark.parametrize("size", [(WIDTH // 2, HEIGHT // 2), (WIDTH * 2, HEIGHT * 2), (600, 375)])
def test_kitti_image_resized_after_calibration_is_refused(tmp_path, size, load_images):
    root = _kitti_root(tmp_path, size)
    with pytest.raises(InvalidValueError) as info:
        KittiDataset(root, load_images=load_images)[0]
    message = str(info.value)
    assert message.startswith(str(root / "training" / "image_2" / "000000.png"))
    assert f"image is {size[0]}x{size[1]}" in message and "(609.6, 172.9)" in message


def test_principal_point_rule_on_real_camera_sizes():
    k = np.array([[721.5377, 0.0, 609.5593], [0.0, 721.5377, 172.854], [0.0, 0.0, 1.0]])
    for size in ((370, 1224), (375, 1242), (376, 1241)):  # the sizes of real KITTI frames
        check_principal_point(size, k, "x.png")
    nuscenes_front = np.array([[1266.4, 0.0, 816.3], [0.0, 1266.4, 491.5], [0.0, 0.0, 1.0]])
    check_principal_point((900, 1600), nuscenes_front, "front.jpg")
    with pytest.raises(InvalidValueError, match="front.jpg: image is 800x450"):
        check_principal_point((450, 800), nuscenes_front, "front.jpg")
