"""The map-expansion rasterizer against the official devkit's ``NuScenesMap.get_map_mask``, on the
simulated town's map and on a map file built here field by field from the published schema."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sensors.classes import MAP_CLASSES
from sensors.errors import CorruptDataError, MissingDataError
from sensors.frame import BevGrid
from sensors.geometry import make_transform, rotation_z
from sensors.nuscenes.map_expansion import (
    LAYER_SOURCES,
    MapRasterizer,
    write_map_expansion,
)
from sensors.sim.config import SimConfig
from sensors.sim.drive import DriveSimulator
from sensors.sim.town_map import town_map

map_api = pytest.importorskip("nuscenes.map_expansion.map_api")


def devkit_layers(nusc_map, ego_to_global: np.ndarray, grid: BevGrid) -> np.ndarray:
    """(6, X, Y) bool of the devkit's own masks for the grid's patch (rows of its mask = ego +y)."""
    patch_box, angle = MapRasterizer.patch(ego_to_global, grid)
    nx, ny = grid.shape
    out = np.zeros((len(MAP_CLASSES), nx, ny), bool)
    for c, name in enumerate(MAP_CLASSES):
        for source in LAYER_SOURCES[name]:
            out[c] |= nusc_map.get_map_mask(patch_box, angle, [source], (ny, nx))[0].T.astype(bool)
    return out


def pose(x: float, y: float, yaw_deg: float) -> np.ndarray:
    return make_transform(rotation_z(math.radians(yaw_deg)), [x, y, 0.0])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    sim = DriveSimulator(SimConfig(), seed=3, duration=10.0, scene_name="scene-0061")
    root = tmp_path_factory.mktemp("simmap")
    write_map_expansion(root, "boston-seaport", town_map(sim.town))
    return sim, root


@pytest.mark.parametrize("t, extra_yaw", [(0.0, 0.0), (6.0, 0.0), (3.0, 37.0), (3.0, -121.0)])
def test_simulated_map_equals_devkit(simulated, t: float, extra_yaw: float) -> None:
    sim, root = simulated
    ego = sim.ego_pose(t) @ make_transform(rotation_z(math.radians(extra_yaw)), [0.0, 0.0, 0.0])
    ours = MapRasterizer.from_root(root, "boston-seaport").rasterize(ego)
    theirs = devkit_layers(map_api.NuScenesMap(str(root), "boston-seaport"), ego, BevGrid())
    for c, name in enumerate(MAP_CLASSES):
        assert ours.layers[c].any(), name
        assert np.array_equal(ours.layers[c], theirs[c]), f"{name}: {np.sum(ours.layers[c] != theirs[c])} cells differ"


def test_simulated_map_traces_the_analytic_ground(simulated) -> None:
    """The written geometry is the simulator's own map: its raster, compared with the analytic
    map sampled at the same points (cell lower corners), differs only by the devkit's one-cell
    inclusive edges and 2-pixel lines."""
    sim, root = simulated
    ego = sim.ego_pose(4.0)
    grid = BevGrid()
    expansion = MapRasterizer.from_root(root, "boston-seaport").rasterize(ego, grid).layers
    # The analytic map at the cell lower corners, on a grid 3 cells larger on every side (no edge effects).
    pad = 3 * grid.resolution
    corners = BevGrid(grid.xmin - pad - grid.resolution / 2, grid.xmax + pad - grid.resolution / 2,
                      grid.ymin - pad - grid.resolution / 2, grid.ymax + pad - grid.resolution / 2, grid.resolution)
    sim.config = SimConfig(bev_grid=corners)
    padded = sim.bev_map(ego).layers
    analytic = padded[:, 3:-3, 3:-3]
    from scipy.ndimage import binary_dilation

    for c, name in enumerate(MAP_CLASSES):
        a, e = analytic[c], expansion[c]
        assert a.any() and e.any(), name
        # Every analytic cell is drawn (within one cell), and the drawn cells are analytic within
        # two (the analytic 0.5 m bands are sampled with gaps when the grid is turned).
        assert np.mean(binary_dilation(e, iterations=1)[a]) > 0.99, name
        near = binary_dilation(padded[c], iterations=2)[3:-3, 3:-3]
        assert np.mean(near[e]) > 0.99, name
        if name in ("drivable_area", "carpark_area"):
            assert (a & e).sum() / (a | e).sum() > 0.93, name


# -- a map written field by field from the published map expansion v1.3 schema -----------------
def node(token: str, x: float, y: float) -> dict:
    return {"token": token, "x": x, "y": y}


def hand_built_map() -> dict:
    """Around the global point (500, 600): a 20 x 10 m drivable square with a 4 x 4 m hole and a second
    drivable polygon, a crossing, a walkway, a stop line, a car park, a road divider that leaves and
    re-enters the patch (two pieces), a lane divider, and an empty traffic light table."""
    nodes, polygons = [], []

    def polygon(token: str, corners: list[tuple[float, float]], holes: list[list[tuple[float, float]]] = ()) -> str:
        ext = []
        for k, (x, y) in enumerate(corners):
            nodes.append(node(f"{token}-n{k}", x, y))
            ext.append(f"{token}-n{k}")
        hole_rows = []
        for h, hole in enumerate(holes):
            tokens = []
            for k, (x, y) in enumerate(hole):
                nodes.append(node(f"{token}-h{h}-{k}", x, y))
                tokens.append(f"{token}-h{h}-{k}")
            hole_rows.append({"node_tokens": tokens})
        polygons.append({"token": token, "exterior_node_tokens": ext, "holes": hole_rows})
        return token

    lines = []

    def line(token: str, points: list[tuple[float, float]]) -> str:
        tokens = []
        for k, (x, y) in enumerate(points):
            nodes.append(node(f"{token}-n{k}", x, y))
            tokens.append(f"{token}-n{k}")
        lines.append({"token": token, "node_tokens": tokens})
        return token

    square = polygon("p-drive", [(510, 595), (530, 595), (530, 605), (510, 605)], [[(518, 598), (522, 598), (522, 602), (518, 602)]])
    side = polygon("p-drive2", [(480, 610), (495, 610), (495, 640), (480, 640)])
    crossing = polygon("p-cross", [(505, 590), (508, 590), (508, 610), (505, 610)])
    walk = polygon("p-walk", [(470, 570), (540, 570), (540, 574), (470, 574)])
    stop = polygon("p-stop", [(531, 595), (531.5, 595), (531.5, 600), (531, 600)])
    park = polygon("p-park", [(455.3, 620.2), (472.9, 621.7), (471.1, 640.4)])
    divider = line("l-road", [(460, 560), (560, 560), (560, 690), (545, 690), (545, 560.5)])
    lane = line("l-lane", [(470, 585.2), (540.7, 588.9)])
    return {
        "version": "1.3", "canvas_edge": [1585.6, 2025.0],
        "node": nodes, "polygon": polygons, "line": lines,
        "drivable_area": [{"token": "da", "polygon_tokens": [square, side]}],
        "road_segment": [], "road_block": [], "lane": [],
        "ped_crossing": [{"token": "pc", "polygon_token": crossing, "road_segment_token": ""}],
        "walkway": [{"token": "ww", "polygon_token": walk}],
        "stop_line": [{"token": "sl", "polygon_token": stop, "stop_line_type": "STOP_SIGN", "ped_crossing_tokens": [],
                       "traffic_light_tokens": [], "road_block_token": ""}],
        "carpark_area": [{"token": "ca", "polygon_token": park, "road_block_token": ""}],
        "road_divider": [{"token": "rd", "line_token": divider, "road_segment_token": ""}],
        "lane_divider": [{"token": "ld", "line_token": lane, "lane_divider_segments": []}],
        "traffic_light": [], "arcline_path_3": {}, "connectivity": {}, "lane_connector": [],
    }


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("handmap")
    (root / "maps" / "expansion").mkdir(parents=True)
    (root / "maps" / "expansion" / "singapore-onenorth.json").write_text(json.dumps(hand_built_map()))
    return root


@pytest.mark.parametrize("yaw", [0.0, 30.0, 90.0, -150.0])
def test_hand_built_map_equals_devkit(hand_built: Path, yaw: float) -> None:
    ego = pose(500.0, 600.0, yaw)
    ours = MapRasterizer.from_root(hand_built, "singapore-onenorth").rasterize(ego).layers
    nusc_map = map_api.NuScenesMap(str(hand_built), "singapore-onenorth")
    patch_box, angle = MapRasterizer.patch(ego, BevGrid())
    nx, ny = BevGrid().shape
    for c, name in enumerate(MAP_CLASSES):
        if name == "divider":
            # The devkit cannot draw the road divider: the patch cuts it into two pieces (a
            # MultiLineString, which its mask code iterates; shapely 2 forbids that).
            with pytest.raises(TypeError):
                nusc_map.get_map_mask(patch_box, angle, ["road_divider"], (ny, nx))
            theirs = nusc_map.get_map_mask(patch_box, angle, ["lane_divider"], (ny, nx))[0].T.astype(bool)
            assert np.all(ours[c] >= theirs)
            continue
        theirs = nusc_map.get_map_mask(patch_box, angle, [LAYER_SOURCES[name][0]], (ny, nx))[0].T.astype(bool)
        assert ours[c].any(), name
        assert np.array_equal(ours[c], theirs), f"{name}: {np.sum(ours[c] != theirs)} cells differ"


def test_hand_built_map_axes_and_cells(hand_built: Path) -> None:
    """Cell [i, j] is the ego point (xmin + i res, ymin + j res): an independent check of the axes."""
    grid = BevGrid()
    rasterizer = MapRasterizer.from_root(hand_built, "singapore-onenorth")
    drive = MAP_CLASSES.index("drivable_area")
    divider = MAP_CLASSES.index("divider")

    def cell(x: float, y: float) -> tuple[int, int]:
        return round((x - grid.xmin) / grid.resolution), round((y - grid.ymin) / grid.resolution)

    layers = rasterizer.rasterize(pose(500.0, 600.0, 0.0), grid).layers
    assert layers[drive][cell(15.0, 0.0)] and layers[drive][cell(25.0, -2.0)]  # the square, 10-30 m ahead
    assert not layers[drive][cell(20.0, 0.0)]  # its hole
    assert layers[drive][cell(-10.0, 25.0)] and not layers[drive][cell(-10.0, -25.0)]  # the side polygon is to the left
    # Both pieces of the road divider inside the patch: y = -40 (along x) and x = 45 (along y).
    assert layers[divider][cell(0.0, -40.0)] and layers[divider][cell(45.0, 20.0)]
    assert not layers[divider][cell(20.0, 20.0)]
    # Turned by 90 degrees (ego facing +y of the map), the square lies to the right of the car.
    turned = rasterizer.rasterize(pose(500.0, 600.0, 90.0), grid).layers
    assert turned[drive][cell(0.0, -15.0)] and turned[drive][cell(2.0, -25.0)] and not turned[drive][cell(0.0, -20.0)]


def test_bad_map_files(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="map expansion file is missing"):
        MapRasterizer.from_root(tmp_path, "boston-seaport")
    with pytest.raises(MissingDataError, match="not one the devkit knows"):
        MapRasterizer.from_root(tmp_path, "simulated")
    folder = tmp_path / "maps" / "expansion"
    folder.mkdir(parents=True)
    (folder / "boston-seaport.json").write_text("{not json")
    with pytest.raises(CorruptDataError, match="boston-seaport.json: invalid JSON"):
        MapRasterizer.from_root(tmp_path, "boston-seaport")
    old = hand_built_map()
    old["version"] = "1.0"
    (folder / "boston-seaport.json").write_text(json.dumps(old))
    with pytest.raises(CorruptDataError, match="outdated map version"):
        MapRasterizer.from_root(tmp_path, "boston-seaport")
    broken = hand_built_map()
    del broken["walkway"]
    (folder / "boston-seaport.json").write_text(json.dumps(broken))
    with pytest.raises(CorruptDataError, match="walkway"):
        MapRasterizer.from_root(tmp_path, "boston-seaport")
