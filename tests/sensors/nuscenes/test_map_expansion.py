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
from sensors.sim.town import ground_grid
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
    """The written expansion read back, and the simulator's own map ground truth (what ``--data sim``
    trains and scores on), both equal the devkit's masks: one map definition for simulated data."""
    sim, root = simulated
    ego = sim.ego_pose(t) @ make_transform(rotation_z(math.radians(extra_yaw)), [0.0, 0.0, 0.0])
    ours = MapRasterizer.from_root(root, "boston-seaport").rasterize(ego)
    own = sim.bev_map(ego)
    theirs = devkit_layers(map_api.NuScenesMap(str(root), "boston-seaport"), ego, BevGrid())
    assert own.grid == BevGrid()
    for c, name in enumerate(MAP_CLASSES):
        assert ours.layers[c].any(), name
        assert np.array_equal(ours.layers[c], theirs[c]), f"{name}: {np.sum(ours.layers[c] != theirs[c])} cells differ"
        assert np.array_equal(own.layers[c], theirs[c]), f"{name}: {np.sum(own.layers[c] != theirs[c])} cells differ"


def test_simulated_map_traces_the_analytic_ground(simulated) -> None:
    """The written geometry is the town the sensors see: its raster, compared with the analytic
    map of :func:`sensors.sim.town.ground_at` sampled at the same points (cell lower corners),
    differs only by the devkit's one-cell inclusive edges and 2-pixel lines."""
    sim, root = simulated
    ego = sim.ego_pose(4.0)
    grid = BevGrid()
    expansion = MapRasterizer.from_root(root, "boston-seaport").rasterize(ego, grid).layers
    # The analytic map at the cell lower corners, on a grid 3 cells larger on every side (no edge effects).
    pad = 3
    xs = grid.xmin + grid.resolution * np.arange(-pad, grid.shape[0] + pad)
    ys = grid.ymin + grid.resolution * np.arange(-pad, grid.shape[1] + pad)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    wx = ego[0, 0] * gx + ego[0, 1] * gy + ego[0, 3]
    wy = ego[1, 0] * gx + ego[1, 1] * gy + ego[1, 3]
    bits = ground_grid(sim.town, wx, wy)[1].reshape(gx.shape)
    padded = (bits[None] >> np.arange(len(MAP_CLASSES), dtype=np.uint8)[:, None, None]) & 1 > 0
    analytic = padded[:, pad:-pad, pad:-pad]
    from scipy.ndimage import binary_dilation

    for c, name in enumerate(MAP_CLASSES):
        a, e = analytic[c], expansion[c]
        assert a.any() and e.any(), name
        # Every analytic cell is drawn (within one cell), and the drawn cells are analytic within
        # two (the analytic 0.5 m bands are sampled with gaps when the grid is turned).
        assert np.mean(binary_dilation(e, iterations=1)[a]) > 0.99, name
        near = binary_dilation(padded[c], iterations=2)[pad:-pad, pad:-pad]
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
    # The same map with every divider split into its straight segments (for the devkit, which
    # cannot draw a line the patch cuts into pieces).
    split = hand_built_map()
    lines, road, lane = [], [], []
    for row in split["line"]:
        for k, (a, b) in enumerate(zip(row["node_tokens"], row["node_tokens"][1:])):
            lines.append({"token": f"{row['token']}-s{k}", "node_tokens": [a, b]})
            (road if row["token"] == "l-road" else lane).append(lines[-1]["token"])
    split["line"] = lines
    split["road_divider"] = [{"token": f"rd{k}", "line_token": t, "road_segment_token": ""} for k, t in enumerate(road)]
    split["lane_divider"] = [{"token": f"ld{k}", "line_token": t, "lane_divider_segments": []} for k, t in enumerate(lane)]
    (root / "segments" / "maps" / "expansion").mkdir(parents=True)
    (root / "segments" / "maps" / "expansion" / "singapore-onenorth.json").write_text(json.dumps(split))
    return root


@pytest.mark.parametrize("x, y, yaw", [(500.0, 600.0, 0.0), (500.0, 600.0, 30.0), (500.0, 600.0, 90.0),
                                     (500.0, 600.0, -150.0), (512.3, 603.1, 63.0), (493.6, 606.4, -12.5)])
def test_hand_built_map_equals_devkit(hand_built: Path, x: float, y: float, yaw: float) -> None:
    ego = pose(x, y, yaw)
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
            # The same dividers as straight segments (one piece each in any patch): the devkit draws
            # them, and our pieces of the whole line give the same pixels.
            segments = map_api.NuScenesMap(str(hand_built / "segments"), "singapore-onenorth")
            theirs = segments.get_map_mask(patch_box, angle, ["road_divider", "lane_divider"], (ny, nx)).any(0).T
            assert ours[c].any() and np.array_equal(ours[c], theirs), f"{np.sum(ours[c] != theirs)} cells differ"
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


@pytest.mark.parametrize("fault, message", [
    ("missing node", r"boston-seaport.json: map shapes do not build \(KeyError: missing token 'nowhere'\)"),
    ("nan node", r"boston-seaport.json: node 'p-drive-n0': x, y = \(nan, 595\) is not a finite point"),
    ("text node", r"boston-seaport.json: map shapes do not build \(ValueError: could not convert string"),
    ("missing polygon", r"boston-seaport.json: not a map expansion v1.3 file \(missing or bad 'gone'\)"),
])
def test_map_with_broken_references_names_the_file(tmp_path: Path, fault: str, message: str) -> None:
    """A map whose records point nowhere or whose nodes are no numbers is one error naming the
    file when it loads, never a KeyError or a GEOS exception from inside the devkit or shapely."""
    document = hand_built_map()
    if fault == "missing node":
        document["polygon"][0]["exterior_node_tokens"][1] = "nowhere"
    elif fault == "nan node":
        document["node"][0]["x"] = float("nan")
    elif fault == "text node":
        document["node"][0]["x"] = "510 m"
    else:
        document["walkway"][0]["polygon_token"] = "gone"
    folder = tmp_path / "maps" / "expansion"
    folder.mkdir(parents=True)
    (folder / "boston-seaport.json").write_text(json.dumps(document))
    with pytest.raises(CorruptDataError, match=message):
        MapRasterizer.from_root(tmp_path, "boston-seaport")
