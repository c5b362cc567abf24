"""The ray caster against a scene with a known answer: one box on open grass."""
from __future__ import annotations

import numpy as np

from sensors.frame import Camera
from sensors.projection import project_points
from sensors.sim.cameras import make_scene, render_view
from sensors.sim.raycast import INF, cast_lidar
from sensors.sim.rig import camera_to_ego
from sensors.sim.shapes import PLAIN, Parts
from sensors.sim.town import Town
from sensors.sim.warmup import warm_up


def _open_field(box_center=(10.0, 0.0, 1.0), half=(1.0, 1.0, 1.0)) -> tuple[Town, Parts]:
    """Grass everywhere near the origin (the only street is 1 km away) and one 2 m cube."""
    town = Town(np.array([[1000.0, 0.0, 300.0, 0.0, 5.0, 1.0]]), np.array([1e5]), np.array([3.5]),
                np.zeros((0, 4)), Parts.empty(), 0, np.zeros((0, 4)))
    box = Parts(np.array([box_center]), np.array([half]), np.zeros(1), np.array([[200.0, 50, 50]]), np.array([60.0]),
                np.array([PLAIN]), np.array([7]))
    return town, box


def test_lidar_hits_box_face_and_ground():
    warm_up()
    town, box = _open_field()
    dirs = np.array([[[1.0, 0.0, 0.0], [np.cos(-0.3), 0.0, np.sin(-0.3)]], [[0.0, 1.0, 0.0], [0.0, np.cos(-0.3), np.sin(-0.3)]]])
    rng, intensity, owner = np.empty((2, 2)), np.empty((2, 2)), np.empty((2, 2), np.int64)
    cast_lidar(np.array([0.0, 0.0, 1.0]), dirs, 70.0, box.packed(), town.avenues, town.cross_x, town.cross_half,
               town.lots, rng, intensity, owner)
    assert abs(rng[0, 0] - 9.0) < 1e-9 and owner[0, 0] == 7
    assert abs(rng[1, 1] - 1.0 / np.sin(0.3)) < 1e-9 and owner[1, 1] == -1  # ground, beside the box
    assert rng[1, 0] == INF and owner[1, 0] == -2  # horizontal ray into empty space
    assert intensity[0, 0] > intensity[1, 1]


def test_camera_depth_is_exact_and_box_casts_a_shadow():
    town, box = _open_field()
    cam_to_ego = camera_to_ego(0.0, 0.0, 1.5, 0.0)
    k = np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]])
    image, depth = render_view(make_scene(town, box, np.zeros(3)), cam_to_ego, k, (240, 320))
    # Centre pixel looks along +x at height 1.5: the box face at x = 9.
    assert abs(depth[120, 160] - 9.0) < 1e-4
    camera = Camera("CAM", image, k, cam_to_ego, 0, depth)
    ground = np.array([[4.0, 1.0, 0.0], [30.0, -5.0, 0.0]])
    uv, z, valid = project_points(ground, camera)
    assert valid.all()
    for (u, v), expected in zip(uv.astype(int), z):
        # Pixel centres differ from the projected point by < 1 px: allow the depth change over it.
        assert abs(depth[v, u] - expected) / expected < 0.05
    assert np.all(depth[:100] == 0.0)  # sky above the horizon and the box
    # Sun from -x -y: the box's shadow falls on +x +y behind it, the ground in front is lit.
    uv, _, valid = project_points(np.array([[11.5, 1.6, 0.0], [11.5, -4.0, 0.0]]), camera)
    assert valid.all()
    (us, vs), (ul, vl) = uv.astype(int)
    assert image[vs, us].astype(float).mean() < 0.75 * image[vl, ul].astype(float).mean()


def test_hidden_box_is_not_rendered():
    town, near = _open_field()
    _, far = _open_field(box_center=(20.0, 0.0, 1.0))
    far.color[:] = [0.0, 0.0, 255.0]
    both = Parts.concatenate([far, near])
    cam_to_ego = camera_to_ego(0.0, 0.0, 1.0, 0.0)
    k = np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]])
    image, depth = render_view(make_scene(town, both, np.zeros(3)), cam_to_ego, k, (240, 320))
    assert abs(depth[120, 160] - 9.0) < 1e-4 and image[120, 160, 0] > image[120, 160, 2]
    assert not np.any((image[..., 2] > 100) & (image[..., 0] < 40))  # no pixel of the far blue box
    image_far, depth_far = render_view(make_scene(town, far, np.zeros(3)), cam_to_ego, k, (240, 320))
    assert abs(depth_far[120, 160] - 19.0) < 1e-4 and np.any((image_far[..., 2] > 100) & (image_far[..., 0] < 40))
