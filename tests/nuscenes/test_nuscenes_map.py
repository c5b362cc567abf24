"""BEV map ground truth of a nuScenes root from its map expansion: two simulated drives written with
their towns' maps, read back and compared with the official devkit's own masks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid
from sensors.nuscenes.map_expansion import LAYER_SOURCES, expansion_path
from sensors.nuscenes.reader import NuScenesDataset
from sensors.nuscenes.writer import MAP_LOCATION, SCENE_SPACING, write_nuscenes
from sensors.sim import SimConfig
from sensors.sim.drive import drive_simulator
from sensors.sim.town_map import town_map

devkit = pytest.importorskip("nuscenes.nuscenes")
map_api = pytest.importorskip("nuscenes.map_expansion.map_api")
pyquaternion = pytest.importorskip("pyquaternion")

SIM = SimConfig(image_size=(90, 160), num_lidar_beams=8, lidar_azimuth_steps=360, sweeps_per_keyframe=1,
                cabin_size=(48, 64), num_agents=10, enable_cameras=False, enable_depth=False, enable_cabin=False)
DRIVES = (("scene-0103", 5), ("scene-0916", 6))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    frames, maps = [], {}
    for scene, seed in DRIVES:
        sim = drive_simulator(SIM, seed, 2, scene)
        frames += [sim.keyframe(k) for k in range(2)]
        maps[scene] = town_map(sim.town)
    root = tmp_path_factory.mktemp("mapped") / "nuscenes"
    write_nuscenes(frames, root, maps=maps)
    return frames, root


def test_logs_point_to_the_written_expansion(written) -> None:
    _, root = written
    assert expansion_path(root, MAP_LOCATION).is_file()
    logs = json.loads((root / "v1.0-mini" / "log.json").read_text())
    assert {log["location"] for log in logs} == {MAP_LOCATION}
    nusc = devkit.NuScenes("v1.0-mini", str(root), verbose=False)
    assert len(nusc.sample) == 4
    map_api.NuScenesMap(str(root), MAP_LOCATION)  # the devkit loads the file


def test_map_equals_devkit_masks_at_the_devkit_ego_pose(written) -> None:
    frames, root = written
    nusc = devkit.NuScenes("v1.0-mini", str(root), verbose=False)
    nusc_map = map_api.NuScenesMap(str(root), MAP_LOCATION)
    grid = BevGrid()
    read = list(NuScenesDataset(root, split="mini_val"))
    assert len(read) == 4
    for original, frame in zip(frames, read):
        sample = nusc.get("sample", frame.token)
        pose = nusc.get("ego_pose", nusc.get("sample_data", sample["data"]["LIDAR_TOP"])["ego_pose_token"])
        yaw = np.degrees(pyquaternion.Quaternion(pose["rotation"]).yaw_pitch_roll[0])
        patch = (pose["translation"][0], pose["translation"][1], 100.0, 100.0)
        layers = frame.annotations.bev_map.layers
        for c, name in enumerate(MAP_CLASSES):
            theirs = np.zeros(grid.shape, bool)
            for source in LAYER_SOURCES[name]:
                theirs |= nusc_map.get_map_mask(patch, yaw, [source], (200, 200))[0].T.astype(bool)
            assert np.array_equal(layers[c], theirs), f"{frame.token} {name}"
        # The world of the second drive was moved by SCENE_SPACING along y, its map with it: the
        # map read back still matches the simulator's own map of the original frame.
        k = [s for s, _ in DRIVES].index(frame.scene)
        np.testing.assert_allclose(frame.ego_to_global[:3, 3] - original.ego_to_global[:3, 3], [0, k * SCENE_SPACING, 0],
                                   atol=1e-6)
        drive = MAP_CLASSES.index("drivable_area")
        a, b = original.annotations.bev_map.layers[drive], layers[drive]
        assert (a & b).sum() / (a | b).sum() > 0.9


def test_missing_expansion_says_so_once_and_gives_no_map(written, tmp_path: Path, capsys) -> None:
    frames, _ = written
    write_nuscenes(frames[:2], tmp_path / "bare")
    capsys.readouterr()
    frames = list(NuScenesDataset(tmp_path / "bare"))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no map expansion for simulated" in lines[0] and "maps/expansion" in lines[0]
    assert len(frames) == 2 and all(f.annotations.bev_map is None for f in frames)


def test_a_scene_without_its_map_is_refused(written, tmp_path: Path) -> None:
    frames, _ = written
    with pytest.raises(ValueError, match=r"no map for scene\(s\) \['scene-0916'\]"):
        write_nuscenes(frames, tmp_path / "x", maps={"scene-0103": town_map(drive_simulator(SIM, 5, 2).town)})
