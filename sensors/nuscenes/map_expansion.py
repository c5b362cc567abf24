"""The nuScenes map expansion: write one in the official schema, and rasterize BEV map layers from it.

A location's map is ``<root>/maps/expansion/<location>.json`` (map expansion v1.3 schema): the
geometric tables ``node`` (x, y in the global frame, metres), ``line`` (node tokens) and
``polygon`` (exterior node tokens and holes), and the semantic layers that point to them
(``drivable_area`` with a list of polygons, ``ped_crossing``, ``walkway``, ``stop_line``,
``carpark_area`` with one polygon each, ``road_divider`` and ``lane_divider`` with one line each),
plus the tables the devkit's ``NuScenesMap`` loads but this project does not use.

:class:`MapRasterizer` reads the file through the devkit (``nuscenes.map_expansion.map_api``,
extra ``nuscenes``) and rasterizes :data:`sensors.classes.MAP_CLASSES` on a
:class:`sensors.frame.BevGrid` in the ego frame, with the rules of the devkit's
``NuScenesMap.get_map_mask`` (the BEVFusion protocol; equality tested pixel by pixel):

* the patch is the grid's rectangle placed by the ego pose: centre = the grid centre in the global
  frame, ``patch_angle`` = ego yaw in degrees, height along ego y, width along ego x, canvas
  ``(Y cells, X cells)``; the devkit's mask rows run along ego +y, so ``layers = mask.transpose``;
* pixel ``(row r, column c)`` has its centre at patch coordinate ``(c, r)`` pixels: cell ``[i, j]``
  of the grid takes the value at its **lower corner** ``(xmin + i res, ymin + j res)`` of the ego
  frame, not at its centre (a half-cell shift, kept for agreement with published numbers);
* polygons: vertices rounded to the nearest pixel, exteriors filled, then holes cleared
  (``cv2.fillPoly``), one source polygon after the other in table order; records of the
  non-drivable layers whose polygon is not valid (self-intersecting) are skipped;
* lines: vertices truncated to whole pixels and drawn 2 pixels thick (``cv2.polylines``);
  ``divider`` = ``road_divider`` or ``lane_divider``.

One difference: the devkit 1.2 fails on a line that the patch cuts into several pieces (it
iterates a shapely ``MultiLineString``, which shapely 2 forbids); this module draws every piece.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from sensors.atomic import atomic_write
from sensors.classes import MAP_CLASSES
from sensors.errors import CorruptDataError, MissingDataError, warn
from sensors.frame import BevGrid, BevMap
from sensors.nuscenes.tokens import make_token

#: Map names the devkit's ``NuScenesMap`` accepts, with its map extent (metres, x and y).
LOCATIONS: Final[dict[str, tuple[float, float]]] = {
    "singapore-onenorth": (1585.6, 2025.0),
    "singapore-hollandvillage": (2808.3, 2922.9),
    "singapore-queenstown": (3228.6, 3687.1),
    "boston-seaport": (2979.5, 2118.1),
}
#: Map expansion schema version written (the devkit refuses files older than 1.3).
SCHEMA_VERSION: Final = "1.3"
#: Expansion layers drawn into each of :data:`sensors.classes.MAP_CLASSES`.
LAYER_SOURCES: Final[dict[str, tuple[str, ...]]] = {
    "drivable_area": ("drivable_area",), "ped_crossing": ("ped_crossing",), "walkway": ("walkway",),
    "stop_line": ("stop_line",), "carpark_area": ("carpark_area",), "divider": ("road_divider", "lane_divider"),
}
POLYGON_LAYERS: Final = ("drivable_area", "ped_crossing", "walkway", "stop_line", "carpark_area")
LINE_LAYERS: Final = ("road_divider", "lane_divider")
#: Line thickness in pixels of the devkit's line masks.
LINE_THICKNESS: Final = 2


def expansion_path(root: Path, location: str) -> Path:
    """``<root>/maps/expansion/<location>.json``."""
    return Path(root) / "maps" / "expansion" / f"{location}.json"


# -- writing ------------------------------------------------------------------------------------
@dataclass
class MapGeometry:
    """Map geometry in the global frame (metres), by expansion layer.

    Attributes:
        polygons: layer (one of :data:`POLYGON_LAYERS`) -> polygons, each ``(exterior (N, 2),
            [holes (M, 2), ...])`` without repeating the first vertex.
        lines: layer (one of :data:`LINE_LAYERS`) -> polylines (N, 2), N >= 2.
    """

    polygons: dict[str, list[tuple[np.ndarray, list[np.ndarray]]]] = field(default_factory=dict)
    lines: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def translated(self, offset: Sequence[float]) -> MapGeometry:
        """The same geometry moved by ``offset`` (dx, dy) metres."""
        d = np.asarray(offset, np.float64)[:2]
        return MapGeometry(
            {k: [(e + d, [h + d for h in holes]) for e, holes in v] for k, v in self.polygons.items()},
            {k: [line + d for line in v] for k, v in self.lines.items()},
        )

    @staticmethod
    def merge(parts: Sequence[MapGeometry]) -> MapGeometry:
        """All layers of ``parts`` together."""
        out = MapGeometry()
        for part in parts:
            for k, v in part.polygons.items():
                out.polygons.setdefault(k, []).extend(v)
            for k, v in part.lines.items():
                out.lines.setdefault(k, []).extend(v)
        return out


class _Tables:
    """Rows of the expansion tables, with node/line/polygon tokens derived from content."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.rows: dict[str, Any] = {name: [] for name in (
            "polygon", "line", "node", "drivable_area", "road_segment", "road_block", "lane", "ped_crossing",
            "walkway", "stop_line", "carpark_area", "road_divider", "lane_divider", "traffic_light", "lane_connector",
        )}
        self.rows["arcline_path_3"] = {}
        self.rows["connectivity"] = {}
        self._count = 0

    def _token(self, kind: str) -> str:
        self._count += 1
        return make_token("map", self.location, kind, self._count)

    def _nodes(self, points: np.ndarray) -> list[str]:
        tokens = []
        for x, y in np.asarray(points, np.float64).reshape(-1, 2):
            token = self._token("node")
            self.rows["node"].append({"token": token, "x": float(x), "y": float(y)})
            tokens.append(token)
        return tokens

    def polygon(self, exterior: np.ndarray, holes: Sequence[np.ndarray]) -> str:
        token = self._token("polygon")
        self.rows["polygon"].append({"token": token, "exterior_node_tokens": self._nodes(exterior),
                                     "holes": [{"node_tokens": self._nodes(h)} for h in holes]})
        return token

    def line(self, points: np.ndarray) -> tuple[str, list[str]]:
        token = self._token("line")
        nodes = self._nodes(points)
        self.rows["line"].append({"token": token, "node_tokens": nodes})
        return token, nodes

    def record(self, layer: str, **fields: Any) -> None:
        self.rows[layer].append({"token": self._token(layer), **fields})


def expansion_json(geometry: MapGeometry, location: str) -> dict[str, Any]:
    """The map expansion v1.3 document of ``geometry`` at ``location`` (one of :data:`LOCATIONS`).

    Every drivable polygon goes into one ``drivable_area`` record; every other polygon or line is
    its own record. Fields this project does not model are written empty (``road_segment_token``
    ``""``, stop lines of type ``STOP_SIGN`` without cues, no lanes, traffic lights or lane
    connectors).

    Raises:
        ValueError: unknown location or layer, a polygon with fewer than 3 or a line with fewer
            than 2 vertices.
    """
    if location not in LOCATIONS:
        raise ValueError(f"unknown map location {location!r}; the devkit accepts {sorted(LOCATIONS)}")
    for layer in geometry.polygons:
        if layer not in POLYGON_LAYERS:
            raise ValueError(f"unknown polygon layer {layer!r}; expected one of {POLYGON_LAYERS}")
    for layer in geometry.lines:
        if layer not in LINE_LAYERS:
            raise ValueError(f"unknown line layer {layer!r}; expected one of {LINE_LAYERS}")
    tables = _Tables(location)
    polygons: dict[str, list[str]] = {}
    for layer, items in geometry.polygons.items():
        for exterior, holes in items:
            if len(exterior) < 3:
                raise ValueError(f"{layer}: a polygon needs at least 3 vertices, got {len(exterior)}")
            polygons.setdefault(layer, []).append(tables.polygon(exterior, holes))
    if polygons.get("drivable_area"):
        tables.record("drivable_area", polygon_tokens=polygons["drivable_area"])
    for token in polygons.get("ped_crossing", []):
        tables.record("ped_crossing", polygon_token=token, road_segment_token="")
    for token in polygons.get("walkway", []):
        tables.record("walkway", polygon_token=token)
    for token in polygons.get("stop_line", []):
        tables.record("stop_line", polygon_token=token, stop_line_type="STOP_SIGN", ped_crossing_tokens=[],
                      traffic_light_tokens=[], road_block_token="")
    for token in polygons.get("carpark_area", []):
        tables.record("carpark_area", polygon_token=token, road_block_token="")
    for layer, items in geometry.lines.items():
        for points in items:
            if len(points) < 2:
                raise ValueError(f"{layer}: a line needs at least 2 vertices, got {len(points)}")
            token, nodes = tables.line(points)
            if layer == "road_divider":
                tables.record(layer, line_token=token, road_segment_token="")
            else:
                tables.record(layer, line_token=token,
                              lane_divider_segments=[{"node_token": n, "segment_type": "DOUBLE_DASHED_WHITE"} for n in nodes])
    return {"version": SCHEMA_VERSION, "canvas_edge": list(LOCATIONS[location]), **tables.rows}


def write_map_expansion(root: Path, location: str, geometry: MapGeometry) -> Path:
    """Write ``geometry`` as ``<root>/maps/expansion/<location>.json`` (atomically); returns the path."""
    path = expansion_path(root, location)
    document = expansion_json(geometry, location)
    atomic_write(path, lambda f: json.dump(document, f))
    return path


# -- rasterizing ----------------------------------------------------------------------------------
def _load_devkit_map(root: Path, location: str) -> Any:
    """The devkit's ``NuScenesMap`` of ``location`` under ``root``; errors name the file."""
    path = expansion_path(root, location)
    if location not in LOCATIONS:
        raise MissingDataError(path, f"map location {location!r} is not one the devkit knows ({sorted(LOCATIONS)})")
    if not path.is_file():
        raise MissingDataError(path, "map expansion file is missing")
    try:
        from nuscenes.map_expansion.map_api import NuScenesMap
    except ImportError:
        raise MissingDataError(path, "reading the map expansion needs nuscenes-devkit (extra 'nuscenes')") from None
    try:
        return NuScenesMap(dataroot=str(root), map_name=location)
    except json.JSONDecodeError as error:
        raise CorruptDataError(path, f"invalid JSON ({error})") from None
    except (KeyError, TypeError, IndexError) as error:
        raise CorruptDataError(path, f"not a map expansion v{SCHEMA_VERSION} file (missing or bad {error})") from None
    except Exception as error:  # noqa: BLE001 (the devkit raises a bare Exception for outdated versions)
        raise CorruptDataError(path, str(error).split("!")[0]) from None


class MapRasterizer:
    """BEV map layers of one map expansion, in the ego frame (see the module docstring).

    Args:
        nusc_map: a devkit ``nuscenes.map_expansion.map_api.NuScenesMap``.
    """

    def __init__(self, nusc_map: Any) -> None:
        from shapely import STRtree

        self.name = nusc_map.map_name
        self._geometry: dict[str, list[Any]] = {}
        self._trees: dict[str, Any] = {}
        for layer in (*POLYGON_LAYERS, *LINE_LAYERS):
            records = getattr(nusc_map, layer)
            if layer == "drivable_area":
                shapes = [nusc_map.extract_polygon(t) for r in records for t in r["polygon_tokens"]]
            elif layer in POLYGON_LAYERS:
                shapes = [p for p in (nusc_map.extract_polygon(r["polygon_token"]) for r in records) if p.is_valid]
            else:
                shapes = [line for line in (nusc_map.extract_line(r["line_token"]) for r in records) if not line.is_empty]
            self._geometry[layer] = shapes
            self._trees[layer] = STRtree(shapes)

    @classmethod
    def from_root(cls, root: Path, location: str) -> MapRasterizer:
        """The rasterizer of ``<root>/maps/expansion/<location>.json``.

        Raises:
            MissingDataError: no such file, an unknown location, or nuscenes-devkit not installed.
            CorruptDataError: the file does not load as a map expansion v1.3.
        """
        return cls(_load_devkit_map(Path(root), location))

    @staticmethod
    def patch(ego_to_global: np.ndarray, grid: BevGrid) -> tuple[tuple[float, float, float, float], float]:
        """The devkit's ``(patch_box, patch_angle)`` of ``grid`` around the ego at ``ego_to_global``:
        patch_box = (x, y, height along ego y, width along ego x) in metres, angle = ego yaw in degrees."""
        pose = np.asarray(ego_to_global, np.float64)
        cx, cy = (grid.xmin + grid.xmax) / 2.0, (grid.ymin + grid.ymax) / 2.0
        centre = pose[:2, :2] @ [cx, cy] + pose[:2, 3]
        yaw = float(np.degrees(np.arctan2(pose[1, 0], pose[0, 0])))
        return (float(centre[0]), float(centre[1]), grid.ymax - grid.ymin, grid.xmax - grid.xmin), yaw

    def layer_mask(self, layer: str, patch_box: tuple[float, float, float, float], patch_angle: float,
                   canvas_size: tuple[int, int]) -> np.ndarray:
        """(H, W) uint8 mask of one expansion layer, as the devkit's ``get_map_mask`` draws it
        (rows along the patch's y axis)."""
        import cv2
        from shapely import affinity
        from shapely.geometry import box

        px, py, ph, pw = patch_box
        patch = affinity.rotate(box(px - pw / 2, py - ph / 2, px + pw / 2, py + ph / 2), patch_angle, origin=(px, py))
        local = box(-pw / 2, -ph / 2, pw / 2, ph / 2)
        mask = np.zeros(canvas_size, np.uint8)
        shapes = self._geometry[layer]
        for index in sorted(self._trees[layer].query(patch)):
            piece = shapes[index].intersection(patch)
            if piece.is_empty:
                continue
            piece = affinity.rotate(piece, -patch_angle, origin=(px, py))
            piece = affinity.affine_transform(piece, [1.0, 0.0, 0.0, 1.0, -px, -py]).intersection(local)
            if piece.is_empty:
                continue
            piece = affinity.affine_transform(piece, [1.0, 0.0, 0.0, 1.0, pw / 2.0, ph / 2.0])
            piece = affinity.scale(piece, xfact=canvas_size[1] / pw, yfact=canvas_size[0] / ph, origin=(0, 0))
            parts = list(getattr(piece, "geoms", [piece]))
            if layer in LINE_LAYERS:
                for part in parts:
                    if part.geom_type == "LineString":
                        cv2.polylines(mask, [np.asarray(part.coords, np.int32).reshape(-1, 2)], False, 1, LINE_THICKNESS)
                continue
            polygons = [p for p in parts if p.geom_type == "Polygon"]
            cv2.fillPoly(mask, [np.array(p.exterior.coords).round().astype(np.int32) for p in polygons], 1)
            holes = [np.array(h.coords).round().astype(np.int32) for p in polygons for h in p.interiors]
            if holes:
                cv2.fillPoly(mask, holes, 0)
        return mask

    def rasterize(self, ego_to_global: np.ndarray, grid: BevGrid | None = None) -> BevMap:
        """The :data:`sensors.classes.MAP_CLASSES` layers around the ego at ``ego_to_global``
        (4, 4; its yaw only: the map is flat) on ``grid`` (default: 200 x 200 cells of 0.5 m)."""
        grid = grid or BevGrid()
        patch_box, angle = self.patch(ego_to_global, grid)
        nx, ny = grid.shape
        layers = np.zeros((len(MAP_CLASSES), nx, ny), bool)
        for c, name in enumerate(MAP_CLASSES):
            for source in LAYER_SOURCES[name]:
                layers[c] |= self.layer_mask(source, patch_box, angle, (ny, nx)).T.astype(bool)
        return BevMap(layers, grid)



class ExpansionMaps:
    """BEV map ground truth of a nuScenes root: a :class:`MapRasterizer` per log location, loaded
    on first use.

    A location without its expansion file (or without nuscenes-devkit to read it) is said in one
    warning line the first time a map of it is asked for; its frames then get no map (the map head
    is skipped for them, not scored as empty). A file that exists but does not load is an error.

    Args:
        root: the nuScenes root (``maps/expansion/`` below it).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._maps: dict[str, MapRasterizer | None] = {}

    def _load(self, location: str) -> MapRasterizer | None:
        folder = self.root / "maps" / "expansion"
        if not expansion_path(self.root, location).is_file():
            warn(folder, f"no map expansion for {location}: no BEV map ground truth for its scenes "
                         "(the map head is skipped there)")
            return None
        try:
            import nuscenes.map_expansion.map_api  # noqa: F401
        except ImportError:
            warn(folder, "reading the map expansion needs nuscenes-devkit (extra 'nuscenes'): no BEV map ground truth")
            return None
        return MapRasterizer.from_root(self.root, location)

    def bev_map(self, location: str, ego_to_global: np.ndarray, grid: BevGrid | None = None) -> BevMap | None:
        """The map layers around the ego at ``ego_to_global`` in ``location``, or None (no map there)."""
        if location not in self._maps:
            self._maps[location] = self._load(location)
        rasterizer = self._maps[location]
        return None if rasterizer is None else rasterizer.rasterize(ego_to_global, grid)
