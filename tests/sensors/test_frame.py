"""Frame data model validation and projection."""
import numpy as np
import pytest

from sensors.boxes import Boxes3D
from sensors.frame import BevGrid, BevMap, Camera, DriverLabels, Frame, Lidar, Sweep
from sensors.projection import project_boxes, project_points

# camera looking along ego +x: camera z = ego x, camera x = -ego y, camera y = -ego z
CAM_TO_EGO = np.array([[0, 0, 1, 1.5], [-1, 0, 0, 0], [0, -1, 0, 1.5], [0, 0, 0, 1]], dtype=float)
K = np.array([[100.0, 0, 80], [0, 100.0, 45], [0, 0, 1]])


def make_camera(**overrides) -> Camera:
    kwargs = dict(name="CAM_FRONT", image=np.zeros((90, 160, 3), np.uint8), intrinsics=K, cam_to_ego=CAM_TO_EGO, timestamp=1)
    kwargs.update(overrides)
    return Camera(**kwargs)


def test_projection_of_point_on_optical_axis():
    camera = make_camera()
    uv, depth, valid = project_points(np.array([[11.5, 0.0, 1.5], [-3.0, 0.0, 1.5], [11.5, 50.0, 1.5]]), camera)
    np.testing.assert_allclose(uv[0], [80, 45])
    np.testing.assert_allclose(depth[:2], [10.0, -4.5])
    np.testing.assert_array_equal(valid, [True, False, False])


def test_project_boxes_visibility():
    camera = make_camera()
    boxes = Boxes3D([[12.0, 0.0, 1.0], [-10.0, 0.0, 1.0]], [[4, 2, 1.5], [4, 2, 1.5]], [0.0, 0.0])
    uv, visible = project_boxes(boxes, camera)
    assert uv.shape == (2, 8, 2)
    np.testing.assert_array_equal(visible, [True, False])


def test_camera_validation():
    with pytest.raises(ValueError, match="uint8"):
        make_camera(image=np.zeros((90, 160, 3), np.float32))
    with pytest.raises(ValueError, match="intrinsics"):
        make_camera(intrinsics=np.eye(3) * -1)
    with pytest.raises(ValueError, match="depth shape"):
        make_camera(depth=np.zeros((10, 10), np.float32))


def test_lidar_and_sweep_validation():
    points = np.zeros((4, 5), np.float32)
    assert Lidar(points, np.eye(4), 5).points.dtype == np.float32
    points[1, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        Lidar(points, np.eye(4), 5)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        Sweep(np.zeros((3, 4)), np.eye(4), 0)


def test_bev_grid_and_map():
    grid = BevGrid(-10, 10, -5, 5, 0.5)
    assert grid.shape == (40, 20)
    xs, ys = grid.cell_centers()
    assert xs[0] == -9.75 and ys[-1] == 4.75
    BevMap(np.zeros((6, 40, 20), bool), grid)
    with pytest.raises(ValueError, match="layers"):
        BevMap(np.zeros((5, 40, 20), bool), grid)


def test_driver_labels_and_frame():
    with pytest.raises(ValueError, match="gaze_zone"):
        DriverLabels(1.0, 0, 8, (0, 0, 0), False)
    frame = Frame("t", "scene-0061", 10, np.eye(4), cameras={"CAM_FRONT": make_camera()})
    assert frame.timestamp == 10
    with pytest.raises(ValueError, match="named"):
        Frame("t", "s", 10, np.eye(4), cameras={"CAM_BACK": make_camera()})


def test_frame_sequence_indexes_slices_and_iterates_like_a_list():
    import numpy as np
    import pytest

    from sensors.frame import Frame, FrameSequence

    frames = [Frame(token=str(i), scene="s", timestamp=i, ego_to_global=np.eye(4)) for i in range(5)]
    reads: list[int] = []

    class Five(FrameSequence):
        def __len__(self) -> int:
            return len(frames)

        def read(self, index: int) -> Frame:
            reads.append(index)
            return frames[index]

    data = Five()
    for index in (0, 4, -1, -5):
        assert data[index] is frames[index]
    for cut in (slice(None), slice(1, 4), slice(None, None, -2), slice(-2, None), slice(7, 9)):
        assert data[cut] == frames[cut]
    assert list(data) == frames and min(reads) >= 0  # read() only ever sees non-negative indices
    for index in (5, -6):
        with pytest.raises(IndexError, match="outside a dataset of 5 frames"):
            data[index]
